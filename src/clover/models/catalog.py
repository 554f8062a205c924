"""The 11 model variants Clover serves, with accuracy, size and compute.

Accuracy values are the ones the original Clover code uses (``albert/accuracy.json``,
``efficientnet/accuracy.json``, ``yolo/accuracy.json`` in boringlee24/sc23-clover, copied in
``../shared/data/clover_reference/``); a test checks this table against those files.

Parameters and GFLOPs per request (1 GFLOP = 1e9 floating-point operations, one
multiply-add = 2 FLOPs), at the input sizes of the original experiments:

* YOLOv5: Ultralytics YOLOv5 v6.x release table (github.com/ultralytics/yolov5, README
  "Pretrained Checkpoints"): params 46.5 M / 86.7 M / 140.7 M and 109.1 / 205.7 / 209.8
  GFLOPs at 640 px. YOLOv5x6 is evaluated at 1280 px, so its FLOPs are 4x the 640-px
  figure (FLOPs scale with pixel count): 839.2 GFLOPs.
* EfficientNet: Tan & Le, ICML 2019, Table 2: params 7.8 / 12 / 30 / 66 M and 0.70 / 1.8 /
  9.9 / 37 G multiply-adds (the paper's "FLOPS") at 240 / 300 / 456 / 600 px; x2 here.
* ALBERT v2: Lan et al., ICLR 2020, Table 1 (params 12 / 18 / 60 / 235 M; layers, hidden
  size). Encoder FLOPs at the SQuAD sequence length of 384 tokens are computed by
  :func:`transformer_encoder_gflops` (embedding factorisation and the QA head ignored).
"""

from __future__ import annotations

from dataclasses import dataclass

from clover.errors import CloverError

CLOVER_REF = "Clover reference ../shared/data/clover_reference/{}_accuracy.json (sc23-clover)"


def transformer_encoder_gflops(layers: int, hidden: int, seq_len: int, ffn_mult: int = 4) -> float:
    """FLOPs of a BERT-style encoder forward pass, GFLOPs per sequence.

    Per layer and token: QKV and output projections 4·H² MACs, feed-forward 2·ffn·H² MACs;
    attention scores and weighted sum 2·S·H MACs. FLOPs = 2 x MACs.
    """
    dense_macs = layers * seq_len * (4 + 2 * ffn_mult) * hidden * hidden
    attn_macs = layers * 2 * seq_len * seq_len * hidden
    return 2.0 * (dense_macs + attn_macs) / 1e9


@dataclass(frozen=True)
class AppSpec:
    """One application served by the inference service."""

    name: str
    task: str
    dataset: str
    metric: str
    input_desc: str


APPS: dict[str, AppSpec] = {
    "yolo": AppSpec("yolo", "object detection", "COCO val2017", "mAP@0.5:0.95 (%)",
                    "RGB image, 640 px (1280 px for the P6 model)"),
    "albert": AppSpec("albert", "question answering", "SQuAD 2.0 dev", "accuracy (%)",
                      "token sequence, 384 tokens"),
    "efficientnet": AppSpec("efficientnet", "image classification", "ImageNet-1k val",
                            "top-1 accuracy (%)", "RGB image at the variant's native size"),
}


@dataclass(frozen=True)
class Variant:
    """One model variant.

    Attributes:
        name: short id (``yolov5x6``, ``albert-xxlarge-v2``, ``efficientnet-b7``).
        app: application key in :data:`APPS`.
        rank: 0 for the smallest variant of its app, increasing with size.
        accuracy: the app's metric, percent.
        params_m: parameters, millions.
        gflops: forward-pass GFLOPs per request at ``input_size``.
        input_size: image side in px, or sequence length in tokens.
        builder_id: the library config the offline builder uses.
        arch: architecture hyper-parameters the builder needs.
    """

    name: str
    app: str
    rank: int
    accuracy: float
    accuracy_source: str
    params_m: float
    gflops: float
    input_size: int
    library: str
    builder_id: str
    size_source: str
    note: str = ""

    @property
    def weight_mb_fp32(self) -> float:
        """Weight memory in MB (1e6 bytes) at 4 bytes per parameter."""
        return self.params_m * 4.0

    @property
    def weight_mb_fp16(self) -> float:
        return self.params_m * 2.0

    @property
    def dataset(self) -> str:
        return APPS[self.app].dataset

    @property
    def metric(self) -> str:
        return APPS[self.app].metric


_YOLO_SRC = "Ultralytics YOLOv5 v6.x README, Pretrained Checkpoints table"
_EFF_SRC = "Tan & Le, EfficientNet (ICML 2019), Table 2 (multiply-adds x2)"
_ALB_SRC = "Lan et al., ALBERT (ICLR 2020), Table 1; GFLOPs by transformer_encoder_gflops(seq=384)"
_YOLO_NOTE = (
    "built from ultralytics' YOLOv5u config (anchor-free head); the paper used the original "
    "anchor-based YOLOv5: same backbone/neck, params 10-15% higher (see clover.models.builders)"
)

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("yolov5l", "yolo", 0, 49.0, CLOVER_REF.format("yolo"), 46.5, 109.1, 640,
                "ultralytics", "yolov5lu.yaml", _YOLO_SRC, _YOLO_NOTE),
        Variant("yolov5x", "yolo", 1, 50.7, CLOVER_REF.format("yolo"), 86.7, 205.7, 640,
                "ultralytics", "yolov5xu.yaml", _YOLO_SRC, _YOLO_NOTE),
        Variant("yolov5x6", "yolo", 2, 55.0, CLOVER_REF.format("yolo"), 140.7, 4 * 209.8, 1280,
                "ultralytics", "yolov5x-p6.yaml", _YOLO_SRC + " (x4 for 1280 px)", _YOLO_NOTE),
        Variant("albert-base-v2", "albert", 0, 83.2, CLOVER_REF.format("albert"), 12.0,
                transformer_encoder_gflops(12, 768, 384), 384, "transformers", "albert-base-v2",
                _ALB_SRC),
        Variant("albert-large-v2", "albert", 1, 85.2, CLOVER_REF.format("albert"), 18.0,
                transformer_encoder_gflops(24, 1024, 384), 384, "transformers", "albert-large-v2",
                _ALB_SRC),
        Variant("albert-xlarge-v2", "albert", 2, 86.4, CLOVER_REF.format("albert"), 60.0,
                transformer_encoder_gflops(24, 2048, 384), 384, "transformers", "albert-xlarge-v2",
                _ALB_SRC),
        Variant("albert-xxlarge-v2", "albert", 3, 89.1, CLOVER_REF.format("albert"), 235.0,
                transformer_encoder_gflops(12, 4096, 384), 384, "transformers", "albert-xxlarge-v2",
                _ALB_SRC),
        Variant("efficientnet-b1", "efficientnet", 0, 78.382, CLOVER_REF.format("efficientnet"),
                7.8, 1.40, 240, "timm", "efficientnet_b1", _EFF_SRC),
        Variant("efficientnet-b3", "efficientnet", 1, 81.528, CLOVER_REF.format("efficientnet"),
                12.0, 3.6, 300, "timm", "efficientnet_b3", _EFF_SRC),
        Variant("efficientnet-b5", "efficientnet", 2, 83.776, CLOVER_REF.format("efficientnet"),
                30.0, 19.8, 456, "timm", "efficientnet_b5", _EFF_SRC),
        Variant("efficientnet-b7", "efficientnet", 3, 84.582, CLOVER_REF.format("efficientnet"),
                66.0, 74.0, 600, "timm", "efficientnet_b7", _EFF_SRC),
    )
}

#: keys of the original Clover accuracy JSON files, per variant
REFERENCE_KEYS: dict[str, tuple[str, str]] = {
    "yolov5l": ("yolo", "yolov5l"), "yolov5x": ("yolo", "yolov5x"),
    "yolov5x6": ("yolo", "yolov5x6"),
    "albert-base-v2": ("albert", "base"), "albert-large-v2": ("albert", "large"),
    "albert-xlarge-v2": ("albert", "xlarge"), "albert-xxlarge-v2": ("albert", "xxlarge"),
    "efficientnet-b1": ("efficientnet", "b1"), "efficientnet-b3": ("efficientnet", "b3"),
    "efficientnet-b5": ("efficientnet", "b5"), "efficientnet-b7": ("efficientnet", "b7"),
}


def get_app(app: str) -> AppSpec:
    spec = APPS.get(app)
    if spec is None:
        raise CloverError(f"unknown app {app!r} (known: {', '.join(APPS)})")
    return spec


def get_variant(name: str) -> Variant:
    """The catalog entry for ``name``; a clear error when unknown."""
    var = VARIANTS.get(name)
    if var is None:
        raise CloverError(f"unknown model variant {name!r} (known: {', '.join(VARIANTS)})")
    return var


#: Smallest input :func:`scaled_input_size` gives: 32 px for images (below that the vision
#: backbones' strided stems leave no spatial extent) and 16 tokens for ALBERT ([CLS], [SEP] and
#: a short sentence). Profiles used 8 tokens and the live service 16 until they shared this
#: function; 16 was kept. It changes only live / CPU-profile inputs at ``--input-scale`` < 1,
#: never the modeled pipeline (which does not scale inputs).
MIN_INPUT_PX = 32
MIN_INPUT_TOKENS = 16


def scaled_input_size(variant: Variant | str, scale: float) -> int:
    """``variant``'s catalog input size x ``scale``, rounded, at least :data:`MIN_INPUT_PX` px
    (images) or :data:`MIN_INPUT_TOKENS` tokens (ALBERT)."""
    var = get_variant(variant) if isinstance(variant, str) else variant
    floor = MIN_INPUT_TOKENS if var.app == "albert" else MIN_INPUT_PX
    return max(floor, int(round(var.input_size * scale)))


def variants_for_app(app: str) -> tuple[Variant, ...]:
    """The app's variants, smallest (rank 0) first."""
    get_app(app)
    return tuple(sorted((v for v in VARIANTS.values() if v.app == app), key=lambda v: v.rank))


def largest_variant(app: str) -> Variant:
    """The most accurate (and largest) variant: what BASE serves."""
    return variants_for_app(app)[-1]
