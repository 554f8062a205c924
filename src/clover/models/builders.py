"""Build the 11 real torch models offline, with random or user-supplied weights.

Nothing here downloads anything: models are constructed from library configurations
(timm model definitions, transformers ``AlbertConfig`` written out below, ultralytics model
YAML files shipped inside the package) and initialised randomly, or loaded from a checkpoint
file the user gives. ``HF_HUB_OFFLINE``/``YOLO_OFFLINE`` are set before the libraries are
imported so that an accidental hub call fails instead of reaching the network.

Public API (the live backend codes against exactly this):

* :func:`build_model` ``(variant, *, weights=None, device="cpu") -> torch.nn.Module`` (eval mode)
* :func:`example_inputs` ``(variant, batch_size=1, *, input_size=None, seed=0) -> dict``
* :func:`run_inference` ``(model, inputs) -> object``

Library-specific notes
----------------------
* **YOLOv5.** Ultralytics 8.x ships only the *YOLOv5u* configurations
  (``cfg/models/v5/yolov5.yaml`` and ``yolov5-p6.yaml`` with scales ``n..x``): the YOLOv5
  backbone and neck with YOLOv8's anchor-free, decoupled detection head (distribution focal
  loss, no objectness branch, no anchors). The Clover paper served the original anchor-based
  YOLOv5 v6 models (torch.hub ``ultralytics/yolov5``), whose code is not packaged. The
  backbone/neck, input sizes and FLOPs order are the same; the head is larger, so parameters are
  10-15 % above the v6 release table in the catalog (measured: l 53.2 M vs 46.5 M, x 97.3 M vs
  86.7 M, x6 155.5 M vs 140.7 M) and the true FLOPs are likewise higher. Profiles keep the
  catalog's (paper's) GFLOPs for the modeled backend; measured backends time the u-models.
* **ALBERT v2.** ``AlbertConfig`` hyper-parameters are the ones of the official
  ``albert-{base,large,xlarge,xxlarge}-v2`` ``config.json`` files (Google's ALBERT release,
  mirrored on the Hugging Face hub) and Lan et al., ICLR 2020, Table 1. The question-answering
  head is :class:`transformers.AlbertForQuestionAnswering` (start/end logits, 2 x hidden
  parameters). Measured parameter counts (11.7 / 17.7 / 58.7 / 222.6 M) are 2-6 % below the
  paper's rounded Table 1 figures (12 / 18 / 60 / 235 M).
* **EfficientNet.** timm's ``efficientnet_b{1,3,5,7}`` (same architecture as Tan & Le), random
  init; parameter counts match the paper within 2 %.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from clover.errors import CloverError
from clover.models.catalog import Variant, get_variant

for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "YOLO_OFFLINE"):
    os.environ.setdefault(_var, "1")


@dataclass(frozen=True)
class AlbertArch:
    """ALBERT v2 hyper-parameters (official ``config.json``; Lan et al. 2020, Table 1)."""

    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    embedding_size: int = 128
    vocab_size: int = 30000
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    hidden_act: str = "gelu_new"


ALBERT_SOURCE = (
    "google-research/albert v2 config.json (albert-{base,large,xlarge,xxlarge}-v2) and "
    "Lan et al., ALBERT, ICLR 2020, Table 1"
)

#: ALBERT v2 architectures by catalog variant name; dropout is 0 in every v2 config.
ALBERT_ARCHS: dict[str, AlbertArch] = {
    "albert-base-v2": AlbertArch(768, 12, 12, 3072),
    "albert-large-v2": AlbertArch(1024, 24, 16, 4096),
    "albert-xlarge-v2": AlbertArch(2048, 24, 16, 8192),
    "albert-xxlarge-v2": AlbertArch(4096, 12, 64, 16384),
}

#: ultralytics model YAML for each YOLO variant (= the catalog's ``builder_id``). The scale
#: letter goes before ``-p6``: ``yolov5x6u.yaml`` does not resolve in ultralytics 8.4.
YOLO_CONFIGS: dict[str, str] = {
    "yolov5l": "yolov5lu.yaml",
    "yolov5x": "yolov5xu.yaml",
    "yolov5x6": "yolov5x-p6.yaml",
}

#: timm model names for the EfficientNet variants
TIMM_NAMES: dict[str, str] = {
    "efficientnet-b1": "efficientnet_b1",
    "efficientnet-b3": "efficientnet_b3",
    "efficientnet-b5": "efficientnet_b5",
    "efficientnet-b7": "efficientnet_b7",
}


def albert_config(variant: str):
    """The ``transformers.AlbertConfig`` of an ALBERT v2 variant (no hub access)."""
    from transformers import AlbertConfig

    arch = ALBERT_ARCHS.get(variant)
    if arch is None:
        raise CloverError(f"{variant!r} is not an ALBERT variant (known: {', '.join(ALBERT_ARCHS)})")
    return AlbertConfig(
        vocab_size=arch.vocab_size,
        embedding_size=arch.embedding_size,
        hidden_size=arch.hidden_size,
        num_hidden_layers=arch.num_hidden_layers,
        num_hidden_groups=1,
        num_attention_heads=arch.num_attention_heads,
        intermediate_size=arch.intermediate_size,
        inner_group_num=1,
        hidden_act=arch.hidden_act,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        max_position_embeddings=arch.max_position_embeddings,
        type_vocab_size=arch.type_vocab_size,
        initializer_range=0.02,
        layer_norm_eps=1e-12,
        classifier_dropout_prob=0.1,
        num_labels=2,
    )


def _build_timm(var: Variant):
    import timm

    return timm.create_model(TIMM_NAMES[var.name], pretrained=False)


def _build_albert(var: Variant):
    from transformers import AlbertForQuestionAnswering

    return AlbertForQuestionAnswering(albert_config(var.name))


def _build_yolo(var: Variant):
    import contextlib
    import io

    from ultralytics.nn.tasks import DetectionModel

    with contextlib.redirect_stdout(io.StringIO()):
        model = DetectionModel(YOLO_CONFIGS[var.name], nc=80, verbose=False)
    return model


_BUILDERS: dict[str, Callable[[Variant], Any]] = {
    "timm": _build_timm,
    "transformers": _build_albert,
    "ultralytics": _build_yolo,
}


def _extract_state_dict(obj: Any, path: Path) -> dict:
    """A plain ``{name: tensor}`` mapping from the common checkpoint layouts."""
    import torch

    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model", "ema"):
            inner = obj.get(key)
            if isinstance(inner, torch.nn.Module):
                return inner.float().state_dict()
            if isinstance(inner, dict) and inner and all(isinstance(v, torch.Tensor)
                                                         for v in inner.values()):
                return inner
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return obj
    raise CloverError(f"checkpoint {path}: no state_dict found (expected a mapping of tensors, "
                      "or one under 'state_dict'/'model')")


def load_state_dict_file(path: str | Path) -> dict:
    """Read a checkpoint file (``.safetensors``, or a torch ``.pt/.pth/.bin`` state_dict).

    Torch files are read with ``weights_only=True`` (no arbitrary unpickling). Errors name
    the file.
    """
    import torch

    path = Path(path).expanduser()
    if not path.is_file():
        raise CloverError(f"checkpoint {path} not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj = load_file(str(path), device="cpu")
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except CloverError:
        raise
    except Exception as exc:  # corrupt file, pickle with code objects, wrong format
        raise CloverError(f"checkpoint {path} could not be read: {type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    return _extract_state_dict(obj, path)


def build_model(variant: str, *, weights: str | Path | None = None,
                device: str = "cpu"):
    """Construct ``variant`` offline, in eval mode, on ``device``.

    Args:
        variant: catalog name (``efficientnet-b1``, ``albert-base-v2``, ``yolov5l`` ...).
        weights: optional checkpoint file (state_dict, or ``.safetensors``); without it the
            weights are the library's random initialisation (seed with ``torch.manual_seed``).
        device: torch device string.

    Raises:
        CloverError: unknown variant, unreadable checkpoint, or a checkpoint whose tensors do
            not match the architecture.
    """
    var = get_variant(variant)
    builder = _BUILDERS.get(var.library)
    if builder is None:  # pragma: no cover - catalog and builders move together
        raise CloverError(f"no builder for library {var.library!r} (variant {variant!r})")
    state = load_state_dict_file(weights) if weights is not None else None
    model = builder(var)
    if state is not None:
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise CloverError(f"checkpoint {weights} does not match {variant}: {first}") from None
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model.to(device)


def example_inputs(variant: str, batch_size: int = 1, *, input_size: int | None = None,
                   seed: int = 0) -> dict:
    """Deterministic example inputs for one forward pass.

    Images: ``{"x": float32 tensor (batch, 3, size, size)}`` with values in [0, 1]. ALBERT:
    ``{"input_ids", "attention_mask", "token_type_ids"}`` of shape (batch, seq_len): random
    token ids, a full attention mask, question (type 0) then context (type 1).

    ``input_size`` overrides the catalog's image side / sequence length (small, fast runs);
    YOLO sizes are rounded up to a multiple of the model stride (32, or 64 for P6).
    """
    import torch

    var = get_variant(variant)
    if batch_size < 1:
        raise CloverError(f"batch_size must be >= 1, got {batch_size}")
    size = int(input_size) if input_size is not None else var.input_size
    if size < 1:
        raise CloverError(f"input_size must be >= 1, got {input_size}")
    gen = torch.Generator().manual_seed(seed)
    if var.app == "albert":
        arch = ALBERT_ARCHS[var.name]
        size = min(size, arch.max_position_embeddings)
        ids = torch.randint(5, arch.vocab_size, (batch_size, size), generator=gen)
        mask = torch.ones(batch_size, size, dtype=torch.long)
        types = torch.zeros(batch_size, size, dtype=torch.long)
        types[:, size // 2:] = 1
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    if var.app == "yolo":
        stride = 64 if var.name.endswith("6") else 32
        size = max(stride, -(-size // stride) * stride)
    return {"x": torch.rand(batch_size, 3, size, size, generator=gen)}


def run_inference(model, inputs: dict) -> object:
    """One forward pass under ``torch.inference_mode``: ``model(x)`` or ``model(**inputs)``."""
    import torch

    with torch.inference_mode():
        if set(inputs) == {"x"}:
            return model(inputs["x"])
        return model(**inputs)


def param_count_m(model) -> float:
    """Parameters of a built model, millions."""
    return sum(p.numel() for p in model.parameters()) / 1e6


def inputs_to(inputs: dict, device: str) -> dict:
    """The same inputs on another device."""
    return {k: v.to(device) for k, v in inputs.items()}
