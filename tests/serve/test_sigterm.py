"""``clover serve up`` in its own process: its fresh local Ray listens on loopback only, and
SIGTERM stops it like Ctrl-C (exit 143, every Ray process gone, no orphaned agents)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO
from tests.serve.conftest import INPUT_SCALE, free_port

pytestmark = [pytest.mark.live, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def test_sigterm_stops_the_service_and_every_ray_process(tmp_path):
    pytest.importorskip("ray.serve")
    psutil = pytest.importorskip("psutil")
    from clover.serve.safety import non_loopback_listeners

    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"gpu": "a100-40gb", "gpus": [
        {"layout": ["7g.40gb"], "variants": ["efficientnet-b1"]}]}))
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO), env.get("PYTHONPATH", "")])
    env.update(OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    log = tmp_path / "out.txt"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "clover.cli", "serve", "up", "--configuration", str(cfg),
             "--input-scale", str(INPUT_SCALE), "--num-cpus", "1", "--cores-per-gpu", "1",
             "--port", str(free_port())],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 240
        while "serving " not in log.read_text():
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        tree = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(p.name() for p in tree)
        assert "raylet" in names and "gcs_server" in names
        assert non_loopback_listeners(proc.pid) == []
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert rc == 143, text[-3000:]
    assert "terminated (SIGTERM); service stopped" in text and "Traceback" not in text
    _, alive = psutil.wait_procs(tree, timeout=30)
    assert [p.name() for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []
