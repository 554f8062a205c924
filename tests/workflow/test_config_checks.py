"""Issue 13 items 3 and 4: ``snakemake -n`` names a bad trace spec, YAML line or config key
(one line) at parse time;
the data rule reruns when a data file changes; ``clover data verify`` refuses missing,
unreadable files and manifest rows that disagree with data/download_manifest.tsv."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clover.datasets import verify

REPO = Path(__file__).resolve().parents[2]
SMALL = ("carbon/clover/CISO_March.csv", "carbon/clover/CISO_Sep.csv",
         "carbon/clover/ESO_March.csv")


def dry_run(work: Path, *targets: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
           str(work), "--cores", "1", "-n", *targets]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ}, timeout=300)
    out.log = out.stdout + out.stderr  # Snakemake prints parse errors on either stream
    return out


def job_counts(log: str) -> dict[str, int]:
    """A dry run's "Job stats" table, rule -> jobs, without the target rules all/default."""
    lines = log.split("Job stats:", 1)[-1].splitlines()
    rows = (l.split() for l in lines[3:])
    out = {}
    for row in rows:
        if len(row) != 2 or not row[1].isdigit():
            break
        out[row[0]] = int(row[1])
    return {k: v for k, v in out.items() if k not in ("all", "default", "total")}


def _work(tmp_path: Path, extra: str = "") -> Path:
    work = tmp_path / "work"
    shutil.copytree(REPO / ".test" / "config", work / "config")
    cfg = work / "config" / "config.yaml"
    cfg.write_text(cfg.read_text() + extra)
    return work


@pytest.mark.parametrize("spec,needle", [
    ("../x:winter:2023", "zone '../x' is not a zone name"),
    ("XX-NOWHERE:winter:2023", "unknown zone 'XX-NOWHERE'"),
    ("DE:monsoon:2023", "'monsoon' is neither a season"),
    ("DE:winter:0", "year 0 is outside"),
])
def test_dry_run_names_a_bad_trace_spec(tmp_path, shared_data, spec, needle):
    work = _work(tmp_path)
    cfg = work / "config" / "config.yaml"
    cfg.write_text(cfg.read_text().replace("  CISO-March: CISO-March",
                                           f"  CISO-March: CISO-March\n  bad: '{spec}'"))
    out = dry_run(work)
    assert out.returncode != 0
    assert "config trace 'bad': " in out.log and needle in out.log, out.log[-2000:]
    assert "MissingInputException" not in out.log


@pytest.mark.parametrize("old,new,line", [
    ("seed: 0", "seed: -3", "config seed: -3 is less than the minimum of 0"),
    ("seed: 0", "seed: 0\nbogus: 1", "config bogus: not a known key (known: allow_mig_changes,"),
    ("  initial: base", "  initial: all",
     "config control.initial: 'all' is not one of ['base', 'none']"),
    # issue 21: a trace name is a path component of results/; '..' made apps share files
    ("  CISO-March: CISO-March", "  CISO-March: CISO-March\n  '..': CISO-March",
     "config traces: '..' does not match"),
    ("  CISO-March: CISO-March", "  CISO-March: CISO-March\n  '.': CISO-March",
     "config traces: '.' does not match"),
])
def test_dry_run_names_a_bad_key_in_one_line(tmp_path, old, new, line):
    work = _work(tmp_path)
    cfg = work / "config" / "config.yaml"
    cfg.write_text(cfg.read_text().replace(old, new, 1))
    out = dry_run(work)
    assert out.returncode != 0
    assert any(l.startswith(line) for l in out.log.splitlines()), out.log[-2000:]
    assert "Failed validating" not in out.log  # not jsonschema's multi-line dump


def test_bare_snakemake_plans_all(tmp_path):
    """`snakemake` without a target runs `all` (the root Snakefile names the default: an
    included file's default_target does not carry over)."""
    work = _work(tmp_path)
    bare, full = dry_run(work), dry_run(work, "all")
    assert bare.returncode == 0 and full.returncode == 0
    assert job_counts(bare.log) == job_counts(full.log) != {}, bare.log[-2000:]


def test_dry_run_names_the_yaml_line(tmp_path):
    work = _work(tmp_path, "broken: [unclosed\n")
    out = dry_run(work)
    assert out.returncode != 0
    n = len((work / "config" / "config.yaml").read_text().splitlines())
    assert f"config file config/config.yaml line {n + 1}" in out.log, out.log[-2000:]
    assert "YAML syntax error" in out.log


@pytest.fixture()
def small_data(tmp_path, shared_data) -> Path:
    """A curated data directory with three files and its own MANIFEST.tsv rows for them."""
    root = tmp_path / "data"
    rows = (shared_data / "MANIFEST.tsv").read_text().splitlines()
    keep = [rows[0]] + [r for r in rows[1:] if r.split("\t")[0] in SMALL]
    for rel in SMALL:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared_data / rel, root / rel)
    (root / "MANIFEST.tsv").write_text("\n".join(keep) + "\n")
    return root


def test_data_rule_reruns_when_a_data_file_changes(tmp_path, small_data):
    work = _work(tmp_path)
    cfg = work / "config" / "config.yaml"
    text = cfg.read_text().replace("data_dir: null", f"data_dir: {small_data}")
    cfg.write_text(text.split("\nregions:")[0] + "\n" + "regions:" +
                   text.split("\nregions:")[1].replace("zones: [DE]", "zones: []"))
    target = "results/data/verified.txt"
    (work / "results" / "data").mkdir(parents=True)
    out = dry_run(work, target)
    assert out.returncode == 0, out.log[-2000:]
    (work / target).write_text("verified\n")
    os.utime(work / target, (2e9, 2e9))
    out = dry_run(work, target)
    assert "Nothing to be done" in out.log, out.log[-2000:]
    changed = small_data / SMALL[0]
    os.utime(changed, (2e9 + 10, 2e9 + 10))
    out = dry_run(work, target)
    assert "rule data:" in out.log and "Nothing to be done" not in out.log


def test_verify_missing_unreadable_and_disagreeing_manifest(run_cli, small_data, monkeypatch):
    code, out, err = run_cli("data", "verify", "--data-dir", str(small_data))
    assert code == 0 and "3 ok, 0 mismatched, 0 missing" in out, err
    # a listed file that is missing fails (curated data directory: every row required)
    (small_data / SMALL[1]).unlink()
    code, out, err = run_cli("data", "verify", "--data-dir", str(small_data))
    assert code == 2 and f"MISSING  {SMALL[1]}" in out
    assert err == f"clover: error: 1 listed file(s) missing: {SMALL[1]}\n"
    # editing the curated manifest to match a changed file is caught against the project's
    # own data/download_manifest.tsv (compared by path, for paths both list)
    shutil.copyfile(small_data / SMALL[0], small_data / SMALL[1])
    manifest = small_data / "MANIFEST.tsv"
    lines = manifest.read_text().splitlines()
    sha0 = next(r.split("\t")[2] for r in lines if r.startswith(SMALL[0]))
    size0 = (small_data / SMALL[0]).stat().st_size
    lines = [("\t".join([SMALL[1], str(size0), sha0, *r.split("\t")[3:]])
              if r.startswith(SMALL[1]) else r) for r in lines]
    manifest.write_text("\n".join(lines) + "\n")
    table = verify(small_data)
    assert (table["status"] == "ok").all() and table.attrs["disagree"] == [SMALL[1]]
    code, out, err = run_cli("data", "verify", "--data-dir", str(small_data))
    assert code == 2 and f"DISAGREE {SMALL[1]}" in out
    assert err == ("clover: error: 1 manifest row(s) disagree with data/download_manifest.tsv: "
                   f"{SMALL[1]}\n")


def test_verify_unreadable_file_is_one_line(run_cli, small_data, monkeypatch):
    real_open = open
    locked = str(small_data / SMALL[2])

    def guarded(file, *a, **k):
        if str(file) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real_open(file, *a, **k)

    monkeypatch.setattr("builtins.open", guarded)
    code, out, err = run_cli("data", "verify", "--data-dir", str(small_data))
    assert code == 2
    assert err == f"clover: error: 1 file(s) unreadable: {SMALL[2]} (Permission denied)\n"


def test_partial_download_requires_only_the_selected_files(run_cli, tmp_path, shared_data):
    ext = tmp_path / "external"
    for rel in SMALL:
        (ext / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared_data / rel, ext / rel)
    code, out, err = run_cli("data", "verify", "--data-dir", str(ext), "--only", "carbon/clover/")
    assert code == 0 and "3 ok" in out and "not downloaded" in out, err
    code, out, err = run_cli("data", "verify", "--data-dir", str(ext), "--only", "carbon/")
    assert code == 2 and "listed file(s) missing" in err


@pytest.mark.slow
def test_snakemake_lint_is_clean(tmp_path):
    """Issue 22 item 6: no lint; in particular no rule uses a global (CONFIG_FILE) in its
    shell command: the effective config reaches it as the param ``config`` (common.smk)."""
    shutil.copytree(REPO / ".test" / "config", tmp_path / "config")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
           str(tmp_path), "--lint"]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ}, timeout=300)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert "Lints for" not in log and "Congratulations" in log, log


def test_a_config_trace_may_be_your_own_file(tmp_path, shared_data):
    """Issue 22 item 4: a ``traces:`` value that is a provider export (here a WattTime JSON)
    is accepted, and the jobs reading it list it as an input (so editing it reruns them)."""
    work = _work(tmp_path)
    moer = work / "moer.json"
    points = [{"point_time": f"2023-07-01T{h:02d}:{m:02d}:00+00:00", "value": 900.0}
              for h in range(24) for m in range(0, 60, 5)]
    moer.write_text(json.dumps({"meta": {"region": "X", "units": "lbs_co2_per_mwh"},
                                "data": points}))
    cfg = work / "config" / "config.yaml"
    cfg.write_text(cfg.read_text().replace("  CISO-March: CISO-March",
                                           "  CISO-March: CISO-March\n  mine: moer.json"))
    out = dry_run(work, "results/carbon/mine.csv")
    assert out.returncode == 0, out.log[-2000:]
    job = out.log.split("rule carbon_trace")[1]
    assert "input: results/data/verified.txt, moer.json" in job, job[:600]


def test_configfile_yaml_error_names_line_and_column(tmp_path, capsys):
    """Issue 21 item 3: python -m clover.pipeline_check names file, line and column of a
    --configfile before Snakemake runs (test_configfile_hook.py: Snakemake itself), and
    clover's own --config loader does too."""
    from clover.pipeline_check import main

    extra = tmp_path / "extra.yaml"
    extra.write_text("seed: 0\nbroken: [unclosed\n")
    assert main([str(REPO / "config" / "config.yaml"), str(extra)]) == 2
    err = capsys.readouterr().err
    assert err == (f"clover: error: config file {extra} line 3 column 1: YAML syntax error: "
                   "expected ',' or ']', but got '<stream end>'\n")
    extra.write_text("control: {initial: none}\n")  # merged key by key, as Snakemake does
    assert main([str(REPO / "config" / "config.yaml"), str(extra)]) == 0
    extra.write_text("control: {initial: all}\n")
    assert main([str(REPO / "config" / "config.yaml"), str(extra)]) == 2
    assert "config control.initial: 'all' is not one of" in capsys.readouterr().err

    from clover.config import load_run_config
    from clover.errors import CloverError

    extra.write_text("seed: 0\nbroken: [unclosed\n")
    with pytest.raises(CloverError, match="line 3 column 1: YAML syntax error"):
        load_run_config(extra)


@pytest.mark.parametrize("in_all", [True, False])
def test_year_in_all_is_a_switch(tmp_path, shared_data, in_all):
    """Issue 20: config year.in_all puts the year study's jobs in `all` and its claims in the
    aggregate's claims table; off, `all` plans no year job and `year` still plans them."""
    work = _work(tmp_path)
    cfg = work / "config" / "config.yaml"
    cfg.write_text(cfg.read_text().replace("  in_all: true", f"  in_all: {str(in_all).lower()}"))
    out = dry_run(work, "-p", "all")
    assert out.returncode == 0, out.log
    jobs = job_counts(out.log)
    expected = {"year_run": 1, "year_summary": 1, "year_figure": 3} if in_all else {}
    assert {k: v for k, v in jobs.items() if k.startswith("year")} == expected
    assert ("--year-claims results/year/claims.csv" in out.log) is in_all
    year = dry_run(work, "year")
    assert job_counts(year.log)["year_run"] == 1
