"""The artifact's replicated search space: partition codes, slice mixes, graph counts."""

import json

import pytest

from clover.models.configuration import Configuration, GpuAssignment
from clover.optimize.space import (
    DUPLICATED_CODES,
    PARTITION_CODES,
    artifact_partitions,
    distinct_graphs,
    slice_mixes,
    space_summary,
)


@pytest.mark.parametrize("app, graphs", [("yolo", 438), ("albert", 1282),
                                         ("efficientnet", 1282)])
def test_graph_counts_are_the_originals(app, graphs):
    s = space_summary(app, "a100-40gb")
    assert len(s["partitions"]) == 15 and len(s["slice_mixes"]) == 14
    assert s["graphs"] == graphs == sum(s["graphs_per_mix"].values())
    assert len(distinct_graphs(app, "a100-40gb")) == graphs


def test_partition_codes_follow_the_artifact_file(shared_data):
    raw = json.loads((shared_data / "clover_reference/partition_code.json").read_text())
    assert {k: tuple(v) for k, v in raw.items()} == PARTITION_CODES
    assert DUPLICATED_CODES == ("9", "15", "16", "17")
    for p in artifact_partitions("a100-40gb"):  # every code left is a valid MIG layout
        g = GpuAssignment(p.profiles, ("yolov5l",) * len(p.profiles))
        Configuration("a100-40gb", (g,)).validate()
    mixes = [p.mix for p in artifact_partitions("a100-40gb")]
    assert len(set(mixes)) == 14 and mixes.count(("1g.5gb",) * 3 + ("2g.10gb",) * 2) == 2
    assert len(slice_mixes("h100-80gb")) == 14


def test_graphs_are_distinct():
    from collections import Counter

    keys = {tuple(sorted(Counter(g.instances).items())) for g in distinct_graphs("yolo",
                                                                                 "a100-40gb")}
    assert len(keys) == 438


def test_space_cli(run_cli):
    code, out, err = run_cli("space", "--app", "yolo", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["graphs"] == 438 and len(d["partitions"]) == 15 and "fitting_graphs" in d
    code, out, _ = run_cli("space", "--app", "albert", "--all-variants")
    assert code == 0 and "distinct configuration graphs: 1282" in out
