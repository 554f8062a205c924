"""Modeled side of the reference check (issue 11 item 3): the artifact's configurations, the
pairing, and the plug into analysis.reference.reference_check's ``modeled`` callable."""

from __future__ import annotations

import pytest

from clover.control.reference_model import (ARRIVALS_S, RATIO_COLUMNS, artifact_entries,
                                            modeled_reference, modeled_reference_table,
                                            reference_configuration)
from clover.errors import CloverError


def test_run_sweep_configurations():
    c = reference_configuration("yolo", "clover")
    assert c.n_gpus == 2
    assert [(g.layout, g.variants) for g in c.gpus] == [
        (("3g.20gb", "4g.20gb"), ("yolov5l", "yolov5x"))] * 2
    b = reference_configuration("albert", "base")
    assert {v for _, _, v, _ in b.instances()} == {"albert-xxlarge-v2"}
    with pytest.raises(CloverError):
        reference_configuration("albert", "random")


def test_modeled_reference_units_and_determinism():
    m = modeled_reference("efficientnet", "base", 1.0)
    assert m["rate_rps"] == 1.0 and m["request_batch"] == 8 and m["n_requests"] == 1000
    assert m["carbon_per_request"] == pytest.approx(m["energy_j_per_request"] / 3.6e6)
    assert m["accuracy"] == pytest.approx(84.582)
    assert modeled_reference("efficientnet", "base", 1.0) == m
    with pytest.raises(CloverError):
        modeled_reference("efficientnet", "base", 0.0)


def test_table_one_row_per_entry_and_pairing():
    t = modeled_reference_table()
    assert len(t) == len(artifact_entries()) == 18
    assert t.duplicated(["kind", "app", "load_index"]).sum() == 0
    base = t[t["kind"] == "base"]
    assert (base["carbon_ratio_vs_base_same_load"] == 1.0).all()
    assert (base[base["load_index"] == 0]["p95_ratio_vs_base_light"] == 1.0).all()
    for app in ARRIVALS_S:
        rows = t[t["app"] == app].set_index(["kind", "load_index"])
        b0 = rows.loc[("base", 0), "modeled_carbon_per_request"]
        c2 = rows.loc[("clover", 2)]
        assert c2["carbon_ratio_vs_base_light"] == pytest.approx(
            c2["modeled_carbon_per_request"] / b0)
        assert set(RATIO_COLUMNS) <= set(t.columns)
