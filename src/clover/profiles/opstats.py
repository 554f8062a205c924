"""Count kernels and peak activation memory of a forward pass without running it.

The model and its inputs are moved to PyTorch's ``meta`` device (shapes only, no data, no
compute) and the forward pass runs under a :class:`~torch.utils._python_dispatch.TorchDispatchMode`
that sees every ATen operator:

* **kernels**: operators that allocate a new output tensor (views and in-place operators
  launch no kernel of their own and are not counted). In eager PyTorch each such operator is
  one (or a few) CUDA kernel launches and one trip through the Python/C++ dispatcher; the
  modeled backend charges a host overhead and a minimum kernel time per operator.
* **peak activation memory**: bytes of live, non-aliasing operator outputs, tracked with
  ``weakref.finalize`` when tensors die (the same lifetime the CUDA caching allocator sees,
  without its rounding and caching); weights are not included.

The values for the 11 catalog variants at their catalog input sizes are stored in
``data/profile_model.yaml`` (``variants:``); ``python -m clover.profiles.opstats`` prints them
and a test re-derives one of them.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass


@dataclass(frozen=True)
class OpStats:
    """What one forward pass does. ``peak_activation_mb`` in MB (1e6 bytes)."""

    kernels: int
    peak_activation_mb: float


def _tracker_class():
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    class _Track(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.live = 0
            self.peak = 0
            self.kernels = 0

        def _free(self, nbytes: int) -> None:
            self.live -= nbytes

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            outs = out if isinstance(out, (tuple, list)) else (out,)
            allocated = False
            for ret, obj in zip(func._schema.returns, outs):
                if isinstance(obj, torch.Tensor) and ret.alias_info is None:
                    nbytes = obj.numel() * obj.element_size()
                    self.live += nbytes
                    self.peak = max(self.peak, self.live)
                    weakref.finalize(obj, self._free, nbytes)
                    allocated = True
            self.kernels += int(allocated)
            return out

    return _Track


def trace_forward(model, inputs: dict) -> OpStats:
    """Kernels and peak activation memory of ``model(**inputs)`` on the meta device.

    ``model`` and ``inputs`` must already be on the meta device. An all-ones
    ``attention_mask`` is dropped (identical semantics; transformers inspects its values).
    """
    import torch

    inputs = dict(inputs)
    inputs.pop("attention_mask", None)
    tracker = _tracker_class()()
    with torch.inference_mode(), tracker:
        out = model(inputs["x"]) if set(inputs) == {"x"} else model(**inputs)
        del out
    return OpStats(kernels=tracker.kernels, peak_activation_mb=round(tracker.peak / 1e6, 2))


def variant_opstats(variant: str, *, input_size: int | None = None,
                    batch_size: int = 1) -> OpStats:
    """:func:`trace_forward` of a catalog variant built by :mod:`clover.models.builders`."""
    import torch

    from clover.models.builders import build_model, example_inputs

    model = build_model(variant)
    stride = getattr(model, "stride", None)
    det_stride = None
    if variant.startswith("yolo"):  # ultralytics keeps strides as plain tensors it .item()s
        det_stride = model.model[-1].stride.clone()
    model = model.to("meta")
    if det_stride is not None:
        model.model[-1].stride = det_stride
        model.stride = det_stride if stride is not None else None
    inputs = {k: v.to("meta") for k, v in
              example_inputs(variant, batch_size, input_size=input_size).items()}
    torch.manual_seed(0)
    return trace_forward(model, inputs)


def main() -> None:  # pragma: no cover - maintenance helper
    from clover.models.catalog import VARIANTS

    for name in VARIANTS:
        st = variant_opstats(name)
        print(f"  {name}: {{kernels: {st.kernels}, peak_activation_mb: {st.peak_activation_mb}}}")


if __name__ == "__main__":  # pragma: no cover
    main()
