"""Issue 21 item 5: the short version of the soak drill (benchmarks/soak.py) on the test
service: 80 % of measured capacity, one replica crash and one reconfiguration midway; every
request accounted for and the ingress' memory flat (the p95 of answered requests outside the
reconfiguration is reported, not asserted: a latency on a shared machine)."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.live,
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def test_short_soak(live_service):
    sys.path.insert(0, str(REPO / "benchmarks"))
    from soak import soak

    out = soak(live_service, duration_s=40.0, rss_slack_mb=48.0)
    print(out)
    assert out["checks"]["every_request_accounted"], out
    assert out["ingress"]["failed"] == 0 and out["ingress"]["answered"] > 0, out
    # the p95-within-SLA check is a latency measurement: reported (and enforced by
    # benchmarks/soak.py's exit code), not asserted here, where the SLA is 4x a 40 s run's
    # low-load p95 on a shared 2-core machine (project rule: no timed asserts in tests)
    assert "p95_within_sla_outside_reconfig" in out["checks"], out
    assert out["checks"]["ingress_memory_flat"], out
    assert out["reconfig_s"] > 0 and out["crash_at_s"] > 0
