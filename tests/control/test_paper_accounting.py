"""Paper protocol = the artifact's run.py hourly accounting (issue 11 item 1)."""

from __future__ import annotations

import pytest

from clover.control.accounting import transition
from clover.control.runs import reconfig_costs
from clover.errors import CloverError
from clover.models.configuration import Configuration
from clover.sim.protocol import protocol_settings

FLAGS = (5.0, 3.0, 500.0)  # re-partition s, model load s, load MB/s


def test_presets_name_their_accounting():
    assert protocol_settings("paper").accounting == "artifact"
    assert protocol_settings("extended").accounting == "modeled"
    with pytest.raises(CloverError, match="unknown accounting"):
        protocol_settings("paper", accounting="guess")


def test_artifact_accounting_charges_no_reconfiguration():
    """A re-partition plus two model loads costs 0 s under paper, 5 s + loads under extended."""
    old = Configuration.uniform("a100-40gb", 2, "efficientnet-b7")
    new = Configuration.uniform("a100-40gb", 2, "efficientnet-b1")
    paper = transition(old, new, reconfig_costs(protocol_settings("paper"), *FLAGS))
    assert paper.reconfig_s == 0.0 and paper.n_model_loads == 2
    ext = reconfig_costs(protocol_settings("extended"), *FLAGS)
    assert transition(old, new, ext).reconfig_s == pytest.approx(2 * ext.load_s("efficientnet-b1"))
