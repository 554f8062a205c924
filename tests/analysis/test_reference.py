"""The artifact's arrival-sweep logs as a table, and the join with a modeled table."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from clover.analysis.reference import (
    MODELED_COLUMNS,
    REFERENCE_COLUMNS,
    load_reference,
    reference_check,
)
from clover.errors import CloverError


def test_one_row_per_artifact_log_entry(shared_data):
    ref = load_reference(shared_data)
    assert list(ref.columns) == list(REFERENCE_COLUMNS)
    # 2 kinds x 3 apps x 3 loads; the cumulative files hold exactly these entries
    root = shared_data / "clover_reference" / "arrival_logs"
    fullest = {}
    for p in root.glob("*/*/arrival=*.json"):
        n = len(json.loads(p.read_text())["acc"])
        key = (p.parent.parent.name, p.parent.name)
        fullest[key] = max(fullest.get(key, 0), n)
    assert len(ref) == sum(fullest.values()) == 18
    assert not ref.duplicated(["kind", "app", "load_index"]).any()
    r = ref[(ref.kind == "clover") & (ref.app == "albert") & (ref.arrival_s == 0.08)].iloc[0]
    # values of clover/albert/arrival=0.08.json, entry 2, against base/albert entries 2 and 0
    assert r.p95_ms == pytest.approx(109.91) and r.relative_load == pytest.approx(5.0)
    assert r.p95_ratio_vs_base_same_load == pytest.approx(109.91 / 229.1)
    assert r.p95_ratio_vs_base_light == pytest.approx(109.91 / 165.28)
    assert r.accuracy_points_vs_base == pytest.approx(89.1 - 84.16)
    base = ref[ref.kind == "base"]
    assert (base.carbon_ratio_vs_base_same_load == 1.0).all()


def test_reference_check_joins_a_modeled_table(shared_data):
    ref = load_reference(shared_data)

    def stand_in(measured: pd.DataFrame) -> pd.DataFrame:  # a stand-in evaluator: 10% high
        out = measured[["kind", "app", "load_index"]].copy()
        for c in MODELED_COLUMNS:
            out[c] = measured[c] * 1.1
        return out

    chk = reference_check(ref, stand_in)
    assert len(chk) == len(ref)
    for c in MODELED_COLUMNS:
        assert chk[f"{c}_error_pct"].to_numpy() == pytest.approx(10.0)
    with pytest.raises(CloverError, match="lacks column"):
        reference_check(ref, lambda m: m[["kind", "app", "load_index"]])


def test_bad_reference_logs(tmp_path):
    with pytest.raises(CloverError, match="not found"):
        load_reference(tmp_path)
    d = tmp_path / "clover_reference" / "arrival_logs"
    (d / "clover").mkdir(parents=True)
    (d / "base" / "yolo").mkdir(parents=True)
    (d / "base" / "yolo" / "arrival=1.json").write_text('{"acc": [1], "lat": [2]}')
    with pytest.raises(CloverError, match="needs lists"):
        load_reference(tmp_path)
