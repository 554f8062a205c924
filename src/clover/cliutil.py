"""Small argument helpers shared by the ``clover`` sub-commands."""

from __future__ import annotations

import json

from clover.errors import CloverError


def parse_json_arg(text: str | None, flag: str) -> dict:
    """A JSON object given on the command line; a clear error naming the flag otherwise."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CloverError(f"{flag}: not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise CloverError(f"{flag}: expected a JSON object, got {type(value).__name__}")
    return value


def parse_max_loss(text: str | None) -> float | None:
    """``none`` or a percentage in [0, 100]: the largest accuracy loss allowed vs BASE."""
    if text is None or str(text).lower() in ("", "none"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise CloverError(f"--max-accuracy-loss must be 'none' or a percentage (got {text!r})") from None
    if not 0.0 <= value <= 100.0:
        raise CloverError(f"--max-accuracy-loss must be within [0, 100] % (got {value})")
    return value


def add_protocol_args(parser) -> None:
    """``--protocol`` and one flag per knob (None = the preset's); see clover.sim.protocol."""
    parser.add_argument("--protocol", default="extended",
                        help="paper (the original artifact's experiment) or extended "
                             "(default; this project's generalisation)")
    parser.add_argument("--base-gpu-factor", type=int, default=None,
                        help="k: BASE runs on k x N GPUs (paper 5, extended 1)")
    parser.add_argument("--space", default=None, help="replicated or per-gpu")
    parser.add_argument("--dispatch", default=None, help="fcfs or optimal")
    parser.add_argument("--request-batch", default=None,
                        help="images/questions per request: an integer for every app or a "
                             "JSON object app -> integer (paper: yolo 8, efficientnet 8, albert 1)")
    parser.add_argument("--base-utilisation", type=float, default=None,
                        help="BASE's utilisation at its own load, sets the rate (paper 0.15)")


def protocol_from_args(args):
    """:class:`clover.sim.protocol.ProtocolSettings` from :func:`add_protocol_args` flags."""
    from clover.sim.protocol import protocol_settings

    batch = args.request_batch
    if isinstance(batch, str):
        try:
            batch = json.loads(batch)
        except json.JSONDecodeError:
            raise CloverError(f"--request-batch: expected an integer or a JSON object "
                              f"(got {batch!r})") from None
    return protocol_settings(args.protocol, base_gpu_factor=args.base_gpu_factor,
                             space=args.space, dispatch=args.dispatch, request_batch=batch,
                             base_utilisation=args.base_utilisation)
