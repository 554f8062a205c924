"""``clover live`` / ``clover serve`` reject bad input with one clear line (before Ray starts).

``clover live`` is ``clover run --backend live`` with the live flags: the run's own checks
answer for the flags they share (``--hours``, ``--lam``)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("args, message", [
    (["--input-scale", "2"], "--input-scale must be in (0, 1]"),
    (["--hours", "0"], "--hours must be within [1,"),
    (["--scheme", "nope"], "--scheme: unknown scheme 'nope'"),
    (["--lam", "1.5"], "--lam must be within [0, 1]"),
    (["--max-accuracy-loss", "abc"], "--max-accuracy-loss must be"),
    (["--trace", "NOPE-March"], "NOPE"),
    (["--scheme-params-json", "[1]"], "--scheme-params-json: expected a JSON object"),
    (["--cluster", "/nonexistent/cluster.yaml"], "cluster file /nonexistent/cluster.yaml"),
])
def test_live_bad_input(run_cli, shared_data, args, message):
    code, out, err = run_cli("live", "--app", "efficientnet", "--data-dir", str(shared_data), *args)
    assert code == 2
    assert err.startswith("clover: error:") and message in err and "Traceback" not in err


def test_serve_up_bad_configuration(run_cli, tmp_path):
    bad = tmp_path / "c.json"
    bad.write_text('{"gpu": "a100-40gb", "gpus": [{"layout": ["4g.20gb", "4g.20gb"], '
                   '"variants": ["efficientnet-b1", "efficientnet-b1"]}]}')
    code, _, err = run_cli("serve", "up", "--configuration", str(bad))
    assert code == 2 and "invalid MIG layout 4g.20gb+4g.20gb" in err


def test_run_backend_live_paper_refuses_a_machine_that_cannot_hold_base(run_cli, shared_data,
                                                                      tmp_path):
    """The paper protocol deploys live now; a BASE reference of k x N whole-GPU replicas
    (--base-deploy full: 5 N emulated GPUs, N = this machine's cores) does not fit: one line
    naming the shortfall, before Ray or any replica starts, and no log."""
    import os

    n = os.cpu_count()
    out = tmp_path / "log.csv"
    code, _, err = run_cli("run", "--app", "efficientnet", "--scheme", "clover", "--trace",
                           "CISO-March", "--backend", "live", "--protocol", "paper",
                           "--n-gpus", str(n), "--base-deploy", "full", "--hours", "2",
                           "--out", str(out), "--data-dir", str(shared_data))
    assert code == 2 and "Traceback" not in err
    line = [l for l in err.splitlines() if l.startswith("clover: error:")]
    assert line == [f"clover: error: live run: BASE's reference (full: {5 * n} x "
                    f"efficientnet-b7) needs {5 * n} CPU cores (one per emulated GPU), the "
                    f"machine has {n} (use --base-deploy equivalent)"], err
    assert not out.exists() and not (tmp_path / "log.csv.partial").exists()
