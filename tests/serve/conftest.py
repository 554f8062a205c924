"""One local Ray Serve instance shared by the live tests of this package (starting Ray costs
~10 s); package scope, so Ray is shut down before the other packages' tests run."""

from __future__ import annotations

import os
import socket

import pytest

from tests.conftest import REPO

#: tiny inputs: EfficientNet at ~36 px keeps a forward pass at a few ms on one core
INPUT_SCALE = 0.15


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="package")
def live_service():
    pytest.importorskip("ray.serve")
    from clover.serve.cluster import local_cluster
    from clover.serve.safety import IngressLimits
    from clover.serve.service import LiveService

    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO)] + [
        p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # the wait bound (max_wait_s, 1 s by default) is tested on its own (test_hardening.py,
    # test_admission.py); the no-loss tests of reconfiguration and crashes run 10-20 requests/s,
    # which a 2-core box shared with other work does not always serve within 1 s
    svc = LiveService(local_cluster("cpu", 1, cores_per_gpu=1, http_port=free_port()),
                      input_scale=INPUT_SCALE, num_cpus=2, allow_faults=True,
                      limits=IngressLimits(max_wait_s=60.0))
    svc.start()
    yield svc
    svc.stop()
