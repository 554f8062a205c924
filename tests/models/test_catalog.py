import json

import pytest

from clover.errors import CloverError
from clover.models.catalog import (
    REFERENCE_KEYS,
    VARIANTS,
    get_variant,
    largest_variant,
    transformer_encoder_gflops,
    variants_for_app,
)
from clover.models.configuration import Configuration, GpuAssignment


def test_eleven_variants_in_three_apps():
    assert len(VARIANTS) == 11
    assert [v.name for v in variants_for_app("yolo")] == ["yolov5l", "yolov5x", "yolov5x6"]
    assert len(variants_for_app("albert")) == 4
    assert [v.name for v in variants_for_app("efficientnet")] == [
        "efficientnet-b1", "efficientnet-b3", "efficientnet-b5", "efficientnet-b7"]
    assert largest_variant("albert").name == "albert-xxlarge-v2"


def test_accuracy_matches_clover_reference(shared_data):
    for name, (app, key) in REFERENCE_KEYS.items():
        ref = json.loads((shared_data / "clover_reference" / f"{app}_accuracy.json").read_text())
        assert get_variant(name).accuracy == pytest.approx(ref[key]), name


def test_larger_variant_is_more_accurate_and_costlier():
    for app in ("yolo", "albert", "efficientnet"):
        vs = variants_for_app(app)
        for small, big in zip(vs, vs[1:]):
            assert big.accuracy > small.accuracy
            assert big.gflops > small.gflops
            assert big.params_m > small.params_m


def test_known_sizes():
    assert get_variant("yolov5x6").gflops == pytest.approx(839.2)
    assert get_variant("efficientnet-b7").gflops == pytest.approx(74.0)
    assert get_variant("albert-xxlarge-v2").weight_mb_fp32 == pytest.approx(940.0)
    # BERT-base-like encoder at 384 tokens: 2*(12*384*12*768^2 + 12*2*384^2*768) FLOPs
    assert transformer_encoder_gflops(12, 768, 384) == pytest.approx(70.66, abs=0.01)


def test_unknown_variant_and_app():
    with pytest.raises(CloverError, match="unknown model variant 'resnet50'"):
        get_variant("resnet50")
    with pytest.raises(CloverError, match="unknown app 'speech'"):
        variants_for_app("speech")


def test_configuration_canonical_and_edges():
    a = Configuration("a100-40gb", (
        GpuAssignment(("4g.20gb", "3g.20gb"), ("efficientnet-b7", "efficientnet-b5")),
        GpuAssignment(("7g.40gb",), ("efficientnet-b7",)),
    ))
    b = Configuration("a100-40gb", (
        GpuAssignment(("7g.40gb",), ("efficientnet-b7",)),
        GpuAssignment(("3g.20gb", "4g.20gb"), ("efficientnet-b5", "efficientnet-b7")),
    ))
    assert a.canonical() == b.canonical()
    assert a.key() == b.key()
    assert a.edge_weights() == {("efficientnet-b5", "3g.20gb"): 1, ("efficientnet-b7", "4g.20gb"): 1,
                                ("efficientnet-b7", "7g.40gb"): 1}
    a.validate("efficientnet")
    with pytest.raises(CloverError, match="is not a yolo model"):
        a.validate("yolo")
    bad = Configuration("a100-40gb", (GpuAssignment(("4g.20gb", "4g.20gb"), ("yolov5l", "yolov5l")),))
    with pytest.raises(CloverError, match="invalid MIG layout 4g.20gb\\+4g.20gb"):
        bad.validate()
    assert Configuration.from_dict(a.as_dict()) == a


def test_cli_models_list(run_cli):
    code, out, _ = run_cli("models", "list")
    assert code == 0 and out.count("\n") == 12 and "yolov5x6" in out
    code, _, err = run_cli("models", "list", "--app", "speech")
    assert code == 2 and "unknown app 'speech'" in err
