"""Stand-in for clover.models.builders (same names and signatures) until the real one lands.

Only EfficientNet variants (timm, random weights), enough for the live-backend tests.
TODO(live): delete when clover.models.builders is on main.
"""

from __future__ import annotations

import torch

from clover.models.catalog import get_variant


def build_model(variant: str, *, weights=None, device: str = "cpu") -> torch.nn.Module:
    import timm

    var = get_variant(variant)
    if var.library != "timm":
        raise NotImplementedError(f"stand-in builds timm models only, not {variant}")
    return timm.create_model(var.builder_id, pretrained=False).eval().to(device)


def example_inputs(variant: str, batch_size: int = 1, *, input_size: int | None = None,
                   seed: int = 0) -> dict[str, torch.Tensor]:
    var = get_variant(variant)
    size = input_size or var.input_size
    g = torch.Generator().manual_seed(seed)
    return {"x": torch.rand(batch_size, 3, size, size, generator=g)}


def run_inference(model: torch.nn.Module, inputs: dict[str, torch.Tensor]):
    with torch.inference_mode():
        return model(inputs["x"])
