"""`clover aggregate` and `clover figures` end to end on synthetic logs."""

from __future__ import annotations

from clover.analysis.figure_list import FIGURE_NAMES
from tests.analysis.synthetic import gpu_table, write_grid



def test_aggregate_then_every_figure(tmp_path, run_cli):
    paths = write_grid(tmp_path)
    gpath = tmp_path / "gpu_count_all.csv"
    gpu_table().to_csv(gpath, index=False)
    out = tmp_path / "results"
    code, _, err = run_cli("aggregate", "--runs", *map(str, paths), "--gpu-count", str(gpath),
                           "--hourly", str(out / "hourly.csv"), "--summary", str(out / "summary.csv"),
                           "--gpus", str(out / "gpu_count.csv"), "--markdown", str(out / "summary.md"))
    assert code == 0, err
    assert (out / "summary.md").read_text().startswith("# Clover reproduction")
    # figures h and i read the decomposition and the reference check (small real ones)
    dec, ref = tmp_path / "decomposition.csv", tmp_path / "reference_check.csv"
    code, _, err = run_cli("decomposition", "--app", "efficientnet", "--trace", "CISO-March",
                           "--scheme", "oracle", "--hours", "2", "--out", str(dec))
    assert code == 0, err
    code, _, err = run_cli("reference-check", "--out", str(ref))
    assert code == 0, err
    figs = tmp_path / "figs"
    code, _, err = run_cli("figures", "--which", "all", "--hourly", str(out / "hourly.csv"),
                           "--summary", str(out / "summary.csv"), "--gpus", str(out / "gpu_count.csv"),
                           "--decomposition", str(dec), "--reference", str(ref),
                           "--outdir", str(figs))
    assert code == 0, err
    pdfs = sorted(p.name for p in figs.glob("*.pdf"))
    assert len(pdfs) == len(FIGURE_NAMES) == 9 and len(list(figs.glob("*.png"))) == 9
    first = (figs / "fig_a_carbon_accuracy.pdf").read_bytes()
    # same inputs, same bytes (no timestamps in the files)
    code, _, _ = run_cli("figures", "--which", "fig_a_carbon_accuracy", "--hourly",
                         str(out / "hourly.csv"), "--summary", str(out / "summary.csv"),
                         "--gpus", str(out / "gpu_count.csv"), "--out", str(tmp_path / "again.pdf"))
    assert code == 0 and (tmp_path / "again.pdf").read_bytes() == first


def test_bad_figure_name(tmp_path, run_cli):
    code, _, err = run_cli("figures", "--which", "nope", "--hourly", str(tmp_path / "x.csv"))
    assert code == 2 and "not found" in err or "unknown figure" in err


def test_aggregate_refuses_bad_year_claims_before_writing(tmp_path, run_cli):
    paths = write_grid(tmp_path)
    bad = tmp_path / "claims.csv"
    bad.write_text("key,statement\nyear-x,something\n")
    out = tmp_path / "out"
    code, _, err = run_cli("aggregate", "--runs", *map(str, paths), "--year-claims", str(bad),
                           "--hourly", str(out / "hourly.csv"), "--summary",
                           str(out / "summary.csv"), "--gpus", str(out / "gpus.csv"),
                           "--markdown", str(out / "summary.md"), "--lam", "0.5")
    assert code == 2
    assert err.strip().startswith("clover: error: year claims file") and "missing column" in err
    assert not out.exists()  # nothing written
