"""`clover aggregate` and `clover figures` end to end on synthetic logs."""

from __future__ import annotations

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
    figs = tmp_path / "figs"
    code, _, err = run_cli("figures", "--which", "all", "--hourly", str(out / "hourly.csv"),
                           "--summary", str(out / "summary.csv"), "--gpus", str(out / "gpu_count.csv"),
                           "--outdir", str(figs))
    assert code == 0, err
    pdfs = sorted(p.name for p in figs.glob("*.pdf"))
    assert len(pdfs) == 7 and len(list(figs.glob("*.png"))) == 7
    first = (figs / "fig_a_carbon_accuracy.pdf").read_bytes()
    # same inputs, same bytes (no timestamps in the files)
    code, _, _ = run_cli("figures", "--which", "fig_a_carbon_accuracy", "--hourly",
                         str(out / "hourly.csv"), "--summary", str(out / "summary.csv"),
                         "--gpus", str(out / "gpu_count.csv"), "--out", str(tmp_path / "again.pdf"))
    assert code == 0 and (tmp_path / "again.pdf").read_bytes() == first


def test_bad_figure_name(tmp_path, run_cli):
    code, _, err = run_cli("figures", "--which", "nope", "--hourly", str(tmp_path / "x.csv"))
    assert code == 2 and "not found" in err or "unknown figure" in err
