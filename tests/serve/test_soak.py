"""Issue 21 item 5: the short version of the soak drill (benchmarks/soak.py) on the test
service: 80 % of measured capacity, one replica crash and one reconfiguration midway; every
request accounted for, p95 of answered requests within the SLA outside the reconfiguration,
the ingress' memory flat."""

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
    assert out["checks"]["p95_within_sla_outside_reconfig"], out
    assert out["checks"]["ingress_memory_flat"], out
    assert out["reconfig_s"] > 0 and out["crash_at_s"] > 0
