"""``clover profile``: write the per-slice profile table of one app on one GPU."""

from __future__ import annotations

import argparse
from pathlib import Path

from clover.cliutil import add_config_arg, config_option
from clover.errors import CloverError
from clover.models.catalog import APPS, get_app, get_variant
from clover.paths import check_output_path
from clover.profiles import BACKENDS, check_backend, default_path


def _positive_int(name: str, value: int, minimum: int = 1) -> int:
    if value < minimum:
        raise CloverError(f"--{name} must be >= {minimum}, got {value}")
    return value


def _profile(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from clover.mig.geometry import get_gpu
    from clover.models.catalog import variants_for_app
    from clover.profiles.schema import write_table

    app = get_app(args.app).name
    backend = check_backend(args.backend)
    spec = get_gpu(args.gpu)
    _positive_int("iters", args.iters)
    _positive_int("warmup", args.warmup, 0)
    batch_sizes = tuple(_positive_int("batch-size", b) for b in args.batch_size)
    if not 0 < args.input_scale <= 4:
        raise CloverError(f"--input-scale must be in (0, 4], got {args.input_scale}")
    variants = tuple(args.variant) if args.variant else tuple(v.name for v in variants_for_app(app))
    for name in variants:
        if get_variant(name).app != app:
            raise CloverError(f"--variant {name} is not a variant of app {app!r}")
    out = Path(args.out) if args.out else default_path(app, spec.key, backend)
    check_output_path(out)  # before the (possibly long) measurement
    slices = tuple(args.slice) if args.slice else tuple(p.name for p in spec.profiles)
    for name in slices:
        spec.profile(name)
    total = len(variants) * len(slices) * len(batch_sizes)
    with tqdm(total=total, desc=f"profile {app} {spec.key} {backend}", unit="row",
              disable=args.quiet, leave=False) as bar:
        if backend == "model":
            from clover.profiles.model import model_profiles

            df = model_profiles(app, spec.key, batch_sizes=batch_sizes, variants=variants)
            df = df[df["slice_profile"].isin(slices)].reset_index(drop=True)
            bar.update(total)
        else:
            from clover.profiles.measure import measure_profiles

            extra = {k: v for k, v in (("idle_s", args.idle_s), ("min_time_s", args.min_time_s))
                     if v is not None}
            if any(v < 0 for v in extra.values()):
                raise CloverError("--idle-s and --min-time-s must be >= 0")
            df = measure_profiles(app, spec.key, backend=backend, variants=variants,
                                  slices=slices, batch_sizes=batch_sizes, iters=args.iters,
                                  warmup=args.warmup, input_scale=args.input_scale,
                                  progress=bar.update, **extra)
    write_table(df, out)
    fits = int(df["fits"].sum())
    print(f"wrote {out}: {len(df)} rows ({fits} fit), source {', '.join(sorted(set(df['source'])))}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "profile", help="per-slice latency/power/energy table of an app (modeled or measured)",
        description="Write results/profiles/<app>_<gpu>_<backend>.csv: one row per variant x "
                    "MIG slice type (x batch size). backend 'model' is analytical (no hardware), "
                    "'cpu' times the real models on CPU cores standing in for slices, 'cuda' "
                    "times them on the MIG slices that already exist (never changes MIG mode).")
    add_config_arg(parser)
    parser.add_argument("--app", required=True, help=f"one of {', '.join(APPS)}")
    config_option(parser, "--gpu", key="gpu", help="GPU catalog key (default %(default)s)")
    config_option(parser, "--backend", key="profiles.backend",
                  help=f"one of {', '.join(BACKENDS)} (default %(default)s)")
    parser.add_argument("--out", help="output CSV (default results/profiles/<app>_<gpu>_<backend>.csv)")
    config_option(parser, "--iters", key="profiles.iters", type=int,
                  help="timed iterations (measured backends; default %(default)s)")
    config_option(parser, "--warmup", key="profiles.warmup", type=int,
                  help="warm-up iterations (measured backends; default %(default)s)")
    config_option(parser, "--input-scale", key="profiles.input_scale", type=float,
                  help="scale the catalog input size (measured backends; e.g. 0.25 for quick "
                       "runs; default %(default)s)")
    parser.add_argument("--idle-s", type=float,
                        help="idle-baseline window before each timed loop, s (cpu 0.5, cuda 1.0)")
    parser.add_argument("--min-time-s", type=float,
                        help="repeat the timed iterations for at least this long, s (cpu 0, cuda 2.0)")
    parser.add_argument("--batch-size", type=int, nargs="+", default=[1], help="batch sizes (default 1)")
    parser.add_argument("--variant", nargs="+", help="only these variants (default: all of the app)")
    parser.add_argument("--slice", nargs="+", help="only these slice profiles (default: all five)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_profile)
