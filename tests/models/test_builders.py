"""Offline model builders: real torch models, one forward pass on CPU, parameter counts."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from clover.errors import CloverError  # noqa: E402
from clover.models import builders  # noqa: E402
from clover.models.builders import (  # noqa: E402
    ALBERT_ARCHS,
    YOLO_CONFIGS,
    build_model,
    example_inputs,
    param_count_m,
    run_inference,
)
from clover.models.catalog import VARIANTS, get_variant  # noqa: E402

#: measured parameter count / catalog (paper) count, and the tolerance the tests hold:
#: timm EfficientNet is the paper's architecture (within 2 %); transformers ALBERT v2 QA
#: models are 2-13 % below the paper's rounded Table 1 (xxlarge: 205.8 M vs "235 M", the
#: paper's figure is not reproduced by its own config); ultralytics YOLOv5u is 10-15 % above
#: the anchor-based v6 release table (larger anchor-free decoupled head).
PARAM_RATIO = {"timm": (0.98, 1.02), "transformers": (0.86, 0.99), "ultralytics": (1.09, 1.16)}


@pytest.fixture(autouse=True)
def _one_thread():
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(prev)


def test_efficientnet_b1_forward():
    model = build_model("efficientnet-b1")
    assert not model.training
    inputs = example_inputs("efficientnet-b1", 2, input_size=64)
    assert inputs["x"].shape == (2, 3, 64, 64)
    out = run_inference(model, inputs)
    assert out.shape == (2, 1000) and torch.isfinite(out).all()
    assert param_count_m(model) == pytest.approx(7.794, abs=0.01)


def test_albert_base_forward():
    model = build_model("albert-base-v2")
    cfg = model.config
    arch = ALBERT_ARCHS["albert-base-v2"]
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads,
            cfg.intermediate_size, cfg.embedding_size) == (768, 12, 12, 3072, 128)
    assert arch.vocab_size == cfg.vocab_size == 30000
    inputs = example_inputs("albert-base-v2", 1, input_size=32)
    assert set(inputs) == {"input_ids", "attention_mask", "token_type_ids"}
    assert inputs["input_ids"].shape == (1, 32)
    out = run_inference(model, inputs)
    assert out.start_logits.shape == (1, 32) and out.end_logits.shape == (1, 32)


def test_yolov5l_forward():
    model = build_model("yolov5l")
    inputs = example_inputs("yolov5l", 1, input_size=64)
    out = run_inference(model, inputs)
    preds = out[0] if isinstance(out, (tuple, list)) else out
    # anchor-free head: 4 box + 80 class channels over (8x8 + 4x4 + 2x2) grid cells at 64 px
    assert preds.shape == (1, 84, 84)


def test_example_inputs_deterministic_and_sized():
    a = example_inputs("albert-large-v2", 2, seed=3)
    b = example_inputs("albert-large-v2", 2, seed=3)
    assert torch.equal(a["input_ids"], b["input_ids"])
    assert a["input_ids"].shape == (2, 384)            # catalog sequence length
    assert (a["token_type_ids"][:, 192:] == 1).all()
    assert example_inputs("yolov5x6", input_size=100)["x"].shape[-1] == 128  # stride 64
    assert example_inputs("efficientnet-b7")["x"].shape[-1] == 600
    with pytest.raises(CloverError, match="batch_size"):
        example_inputs("efficientnet-b1", 0)


@pytest.mark.parametrize("name", ["efficientnet-b1", "albert-base-v2", "yolov5l"])
def test_param_counts_vs_catalog(name):
    var = get_variant(name)
    lo, hi = PARAM_RATIO[var.library]
    ratio = param_count_m(build_model(name)) / var.params_m
    assert lo <= ratio <= hi, (name, ratio)


def test_every_variant_has_a_builder():
    for name, var in VARIANTS.items():
        if var.library == "ultralytics":
            assert YOLO_CONFIGS[name] == var.builder_id
        elif var.library == "transformers":
            assert name in ALBERT_ARCHS
        else:
            assert builders.TIMM_NAMES[name] == var.builder_id


def test_unknown_variant():
    with pytest.raises(CloverError, match="unknown model variant 'resnet50'"):
        build_model("resnet50")
    with pytest.raises(CloverError, match="unknown model variant"):
        example_inputs("gpt2")


def test_checkpoint_round_trip_and_bad_paths(tmp_path):
    model = build_model("efficientnet-b1")
    ckpt = tmp_path / "b1.pt"
    torch.save({"state_dict": model.state_dict()}, ckpt)
    again = build_model("efficientnet-b1", weights=ckpt)
    key = "classifier.weight"
    assert torch.equal(again.state_dict()[key], model.state_dict()[key])
    with pytest.raises(CloverError, match="not found"):
        build_model("efficientnet-b1", weights=tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CloverError, match="could not be read"):
        build_model("efficientnet-b1", weights=junk)
    with pytest.raises(CloverError, match="does not match efficientnet-b3"):
        build_model("efficientnet-b3", weights=ckpt)
