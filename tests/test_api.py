"""``clover.api``: one typed RunSpec handed to run / decide / evaluate (issue 22 item 1)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from clover.api import RunSpec, decide, evaluate, run
from clover.errors import CloverError

REPO = Path(__file__).resolve().parents[1]
TIMING = ["decision_s"]  # wall-clock: the only column allowed to differ


def readme_block() -> str:
    """The Python block of README.md's "From Python" section."""
    text = (REPO / "README.md").read_text()
    section = text.split("## From Python", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def cli_log(run_cli, tmp_path, *argv: str) -> pd.DataFrame:
    out = tmp_path / "cli.csv"
    code, _, err = run_cli("run", *argv, "--out", str(out))
    assert code == 0, err
    return pd.read_csv(out, dtype=str)


def same(api_log: pd.DataFrame, path_log: pd.DataFrame) -> bool:
    """Equal as written: the API's log through the same CSV writer, every column but
    decision_s."""
    from clover.tables import CSV_FORMAT

    from io import StringIO

    a = pd.read_csv(StringIO(api_log.to_csv(**CSV_FORMAT)), dtype=str)
    return a.drop(columns=TIMING).equals(path_log.drop(columns=TIMING))


def test_readme_from_python_equals_clover_run(run_cli, tmp_path, shared_data, capsys):
    code = readme_block()
    assert len(code.strip().splitlines()) <= 10
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)
    capsys.readouterr()
    log = cli_log(run_cli, tmp_path, "--protocol", "paper", "--app", "yolo", "--scheme",
                  "clover", "--trace", "CISO-March", "--hours", "4")
    assert same(ns["result"].log, log) and len(log) == 4
    assert ns["result"].meta["n_gpus"] == 2 and ns["result"].meta["protocol"] == "paper"


def test_from_config_reads_a_file_and_overrides_by_key(tmp_path):
    raw = yaml.safe_load((REPO / ".test" / "config" / "config.yaml").read_text())
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**raw, "seed": 3}))
    spec = RunSpec.from_config(str(path), app="albert", scheme="oracle", lam=0.3)
    assert (spec.seed, spec.n_gpus, spec.hours, spec.protocol, spec.lam) == (3, 4, 4, "paper", 0.3)
    assert dict(spec.problem) == raw["problem"] and spec.eval_window_s == 30.0
    bare = RunSpec.from_config(None, app="albert")  # the schema's defaults
    assert (bare.seed, bare.n_gpus, bare.protocol, bare.gpu, bare.initial) == (
        0, None, "extended", "a100-40gb", "base")
    assert RunSpec(app="albert") == bare


@pytest.mark.parametrize("kwargs, message", [
    ({"app": "yolo", "wattage": 3}, "RunSpec: unknown key(s) wattage"),
    ({"app": "gpt"}, "app: 'gpt' is not one of"),
    ({"app": "yolo", "scheme": "nope"}, "scheme: unknown scheme 'nope'"),
    ({"app": "yolo", "lam": 2}, "lam must be within [0, 1]"),
    ({"app": "yolo", "problem": [1]}, "problem: expected a JSON object"),
])
def test_a_bad_key_or_value_is_one_error_naming_it(kwargs, message):
    with pytest.raises(CloverError) as exc:
        RunSpec.from_config(None, **kwargs)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_run_needs_a_scheme_and_a_trace():
    with pytest.raises(CloverError, match="RunSpec: scheme, trace required"):
        run(RunSpec(app="yolo"))


def test_decide_and_evaluate_agree_with_the_run(shared_data):
    spec = RunSpec.from_config(None, app="efficientnet", scheme="oracle", trace="CISO-March",
                               hours=1, data_dir=str(shared_data))
    row = run(spec).log.iloc[0]
    d = decide(spec, row["ci_g_per_kwh"])
    assert d.objective == pytest.approx(row["objective"])
    ev = evaluate(spec, d.configuration, row["ci_g_per_kwh"])
    assert ev.energy_j_per_request == pytest.approx(row["energy_j_per_request"])
    assert evaluate(spec, "base", 250.0).sla_met


def test_live_flags_become_a_spec_without_reparsing():
    """``clover live`` maps its flags onto a RunSpec directly (no argv round trip); what it
    does not give is the schema's (clover run's) default."""
    from clover.cli import command_parser
    from clover.control.cli import live_spec

    args = command_parser("live").parse_args(
        ["--app", "efficientnet", "--lam", "0.3", "--gpus", "2", "--rate-rps", "5"])
    spec, live, out = live_spec(args)
    assert (spec.backend, spec.n_gpus, spec.lam, spec.eval_window_s, spec.grid) == (
        "live", 2, 0.3, 5.0, "live")
    assert dict(spec.problem) == {"rate_rps": 5.0} and spec.scheme == "clover"
    assert (spec.protocol, spec.gpu, spec.seed, spec.hours) == ("extended", "a100-40gb", 0, 3)
    assert live.backend == "cpu" and out.endswith("efficientnet_cpu_clover_CISO-March.csv")


def test_run_grid_writes_what_run_writes(run_cli, tmp_path, shared_data):
    """``clover run-grid`` (clover.api.run_schemes) = one ``clover run`` per scheme."""
    common = ["--protocol", "paper", "--app", "efficientnet", "--trace", "CISO-March",
              "--hours", "2", "--data-dir", str(shared_data)]
    outs = [str(tmp_path / f"{s}.csv") for s in ("base", "jung")]
    code, _, err = run_cli("run-grid", *common, "--schemes", "base", "jung", "--out", *outs)
    assert code == 0, err
    for scheme, path in zip(("base", "jung"), outs):
        one = cli_log(run_cli, tmp_path, *common, "--scheme", scheme)
        assert pd.read_csv(path, dtype=str).drop(columns=TIMING).equals(one.drop(columns=TIMING))
