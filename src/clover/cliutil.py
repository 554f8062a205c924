"""Argument and value checks shared by the ``clover`` sub-commands.

Bounds are checked where a value enters (docs/reliability.md): the argparse ``type=`` helpers
below raise :class:`~clover.errors.CloverError` naming the option, which ``clover.cli.main``
turns into one ``clover: error: ...`` line and exit code 2.

Options that mirror a config key (:func:`config_option`) take their default from
``--config FILE`` when given, else from the config schema (``clover/config.schema.yaml``, the
one place of the defaults); a flag given on the command line overrides both.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from typing import Any, Callable, Iterable, Mapping

from clover.errors import CloverError

#: plausibility bound on a carbon intensity, g CO2eq/kWh. The dirtiest hourly grid values in
#: Electricity Maps / WattTime data are ~1,000-1,300 g/kWh (lignite / oil-shale grids); no
#: generation source exceeds ~1,200 g/kWh life-cycle (IPCC AR5 WG3 Annex III, coal
#: 740-910, median 820). 3,000 leaves room for PUE-multiplied values and oddities, and refuses
#: unit mistakes (kg vs g, lb/MWh) and overflow values such as 1e308 (docs/traces.md).
CI_MAX_G_PER_KWH = 3000.0
#: facility PUE: >= 1 by definition (The Green Grid, WP#49); 10 bounds unit mistakes
PUE_MAX = 10.0
#: calendar years a carbon trace spec may name (data sets start 2015-2021; 2100 is generous)
YEAR_MIN, YEAR_MAX = 1990, 2100
#: the longest trace window, hours (~114 years); larger values overflow timestamps
HOURS_MAX = 1_000_000
#: ``clover workload sample``: the most arrivals one sample may hold (8 B each: 80 MB)
MAX_SAMPLE_REQUESTS = 10_000_000
#: the largest accepted seed (numpy's SeedSequence takes any non-negative int; 2**63-1 keeps
#: it within int64 for the CSV logs)
SEED_MAX = 2**63 - 1


def check_number(value: Any, name: str, *, lo: float | None = None, hi: float | None = None,
                 lo_open: bool = False, hi_open: bool = False, integer: bool = False
                 ) -> float | int:
    """``value`` as a finite float (or int) within the bounds; a CloverError naming ``name``.

    Strings are parsed; booleans are refused (``true`` is not a number of evaluations).
    """
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool):
        raise CloverError(f"{name} must be {kind} (got {value!r})")
    try:
        if integer:
            if isinstance(value, float):
                if not value.is_integer():
                    raise ValueError
                num: float | int = int(value)
            else:
                num = int(str(value).strip()) if isinstance(value, str) else int(value)
        else:
            num = float(value)
    except (TypeError, ValueError, OverflowError):
        raise CloverError(f"{name} must be {kind} (got {value!r})") from None
    if not integer and not math.isfinite(num):
        raise CloverError(f"{name} must be a finite number (got {value!r})")
    low_bad = lo is not None and (num <= lo if lo_open else num < lo)
    high_bad = hi is not None and (num >= hi if hi_open else num > hi)
    if low_bad or high_bad:
        left = "(" if lo_open else "["
        right = ")" if hi_open or hi is None else "]"
        fmt = (lambda x: str(int(x))) if integer else (lambda x: f"{x:g}")
        lo_s = "-inf" if lo is None else fmt(lo)
        hi_s = "inf" if hi is None else fmt(hi)
        raise CloverError(f"{name} must be within {left}{lo_s}, {hi_s}{right} (got {value!r})")
    return num


def number(name: str, **bounds) -> Callable[[str], float | int]:
    """An argparse ``type=`` for option ``name`` checked by :func:`check_number`."""

    def parse(text: str):
        return check_number(text, name, **bounds)

    parse.__name__ = "integer" if bounds.get("integer") else "number"
    return parse


def ci_value(name: str) -> Callable[[str], float]:
    """An argparse ``type=`` for a carbon intensity in [0, CI_MAX_G_PER_KWH] g/kWh."""
    return number(name, lo=0.0, hi=CI_MAX_G_PER_KWH)


def pue_value(name: str) -> Callable[[str], float]:
    """An argparse ``type=`` for a PUE in [1, PUE_MAX]."""
    return number(name, lo=1.0, hi=PUE_MAX)


def seed_value(name: str = "--seed") -> Callable[[str], int]:
    """An argparse ``type=`` for a non-negative integer seed."""
    return number(name, lo=0, hi=SEED_MAX, integer=True)


def check_params(params: Mapping[str, Any], defaults: Mapping[str, Any], where: str,
                 positive: Mapping[str, bool] | None = None) -> dict:
    """``params`` checked against ``defaults``: known keys only, each of its default's type.

    A default of ``int`` takes integers, of ``float`` any finite number (ints too); numbers
    must be >= 0 (``> 0`` where ``positive[key]``). A default of ``None`` takes ``None`` or a
    number (seeds, thresholds). ``where`` names the source (``--param``, ``config ...``).
    """
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise CloverError(f"{where}: unknown parameter(s) {', '.join(unknown)} "
                          f"(known: {', '.join(defaults) or 'none'})")
    out = {}
    for key, value in params.items():
        default = defaults[key]
        name = f"{where} {key}"
        strict = bool(positive and positive.get(key))
        if value is None and default is None:
            out[key] = None
        elif key == "seed":
            out[key] = check_number(value, name, lo=0, hi=SEED_MAX, integer=True)
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise CloverError(f"{name} must be true or false (got {value!r})")
            out[key] = value
        elif isinstance(default, int):
            out[key] = check_number(value, name, lo=0, lo_open=strict, integer=True)
        else:  # float or None (a number when given)
            if isinstance(value, str):
                raise CloverError(f"{name} must be a number (got {value!r})")
            out[key] = check_number(value, name, lo=0.0, lo_open=strict)
    return out


def parse_json_arg(text: str | Mapping | None, flag: str) -> dict:
    """A JSON object given on the command line (or already a mapping: the value of a config
    key, :func:`config_option`); a clear error naming the flag otherwise."""
    if isinstance(text, Mapping):
        return dict(text)
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CloverError(f"{flag}: not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise CloverError(f"{flag}: expected a JSON object, got {type(value).__name__}")
    return value


def read_json_object(path: str | os.PathLike[str], what: str) -> dict:
    """A JSON file that must hold an object (configuration, cluster file); one clear error for
    a missing, unreadable, malformed or non-object file."""
    from clover.paths import read_text

    text = read_text(path, what)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CloverError(f"{what} {path}: not valid JSON (line {exc.lineno}: {exc.msg})"
                          ) from None
    if not isinstance(value, dict):
        raise CloverError(f"{what} {path}: expected a JSON object, got {type(value).__name__}")
    return value


def parse_max_loss(text: str | None) -> float | None:
    """``none`` or a percentage in [0, 100]: the largest accuracy loss allowed vs BASE."""
    if text is None or str(text).lower() in ("", "none"):
        return None
    return float(check_number(text, "--max-accuracy-loss", lo=0.0, hi=100.0))


class ConfigDefault(str):
    """The default of an option that mirrors config key ``key`` (:func:`config_option`).

    A ``str`` (the key) so that argparse itself, whatever the parser class, passes it through
    the option's ``type=`` when no flag and no ``--config`` set the option; that ``type=``
    (:class:`_ConfigType`) turns it into the schema's default. ``convert`` maps a config
    value to the option's value (default: the option's ``type=``, per item for a list)."""

    def __new__(cls, key: str, convert: Callable[[Any], Any] | None = None):
        self = super().__new__(cls, key)
        self.key, self.convert = key, convert
        return self

    def value(self, config=None) -> Any:
        """The option's value under ``config`` (a :class:`clover.config.RunConfig`), or the
        schema's default without one (a key the schema lacks raises LookupError)."""
        from clover.config import schema_default

        raw = config.get(self.key) if config is not None else schema_default(self.key)
        return raw if raw is None or self.convert is None else self.convert(raw)

    def __str__(self) -> str:  # ``%(default)s`` in a help text
        value = self.value()
        return " ".join(map(str, value)) if isinstance(value, list) else str(value)


class _ConfigType:
    """The ``type=`` of a config option: a :class:`ConfigDefault` becomes the schema's
    default, a command-line string goes through the option's own ``type=``."""

    def __init__(self, inner: Callable[[str], Any] | None) -> None:
        self.inner = inner
        self.__name__ = getattr(inner, "__name__", "value")  # argparse's error messages

    def __call__(self, text: str) -> Any:
        if isinstance(text, ConfigDefault):
            return text.value()
        return self.inner(text) if self.inner is not None else text


def _given(namespace) -> set:
    """The dests a flag on the command line set (``--config`` leaves them alone)."""
    if not hasattr(namespace, "_config_given"):
        namespace._config_given = set()
    return namespace._config_given


class _ConfigOptionAction(argparse.Action):
    """Store the value (``repeat``: collect one value per flag) and note the option as given."""

    def __init__(self, option_strings, dest, repeat: bool = False, **kwargs) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.repeat = repeat

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        given = _given(namespace)
        if self.repeat:
            values = [*(getattr(namespace, self.dest) if self.dest in given else []), values]
        setattr(namespace, self.dest, values)
        given.add(self.dest)


class _ConfigFileAction(argparse.Action):
    """``--config FILE``: every config option of this parser not given as a flag (before it;
    a flag after it overrides it anyway) takes the file's value."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from clover.config import load_run_config

        config = load_run_config(values)
        setattr(namespace, self.dest, values)
        given = _given(namespace)
        for action in parser._actions:
            if isinstance(action.default, ConfigDefault) and action.dest not in given:
                setattr(namespace, action.dest, action.default.value(config))


def add_config_arg(parser) -> None:
    """``--config FILE``: the run configuration (YAML or JSON, checked against the config
    schema, defaults filled) that the options of :func:`config_option` default to (once per
    parser: a second call adds nothing)."""
    if "--config" in parser._option_string_actions:
        return
    parser.add_argument("--config", metavar="FILE", action=_ConfigFileAction,
                        help="run configuration (YAML, e.g. config/config.yaml, or the "
                             "pipeline's results/config/<hash>.json); the options below "
                             "default to its values, flags given here override it")


def config_option(parser, *flags: str, key: str, repeat: bool = False,
                  convert: Callable[[Any], Any] | None = None, **kwargs):
    """``parser.add_argument(*flags, **kwargs)`` for an option that mirrors config key
    ``key``: with no flag it takes the value in ``--config FILE``, else the schema's default
    (the schema states it, not the option). ``repeat``: the flag may be repeated, each adding
    one value; ``convert`` maps the config value (default: ``type=``, per item of a list)."""
    inner = kwargs.pop("type", None)
    if convert is None and inner is not None:
        def convert(raw):
            return [inner(v) for v in raw] if isinstance(raw, list) else inner(raw)
    return parser.add_argument(*flags, default=ConfigDefault(key, convert),
                               type=_ConfigType(inner), action=_ConfigOptionAction,
                               repeat=repeat, **kwargs)


def add_data_dir_option(parser, help: str = "data directory (default: $CLOVER_DATA, "
                                            "../shared/data, data/external)") -> None:
    """``--data-dir DIR`` (default: config data_dir) and ``--config FILE``."""
    add_config_arg(parser)
    config_option(parser, "--data-dir", key="data_dir", help=help)


def config_keys(parser, except_flags: Iterable[str] = ()) -> tuple[str, ...]:
    """The config keys ``parser``'s options default to, but for those of the flags in
    ``except_flags`` (flags a caller always gives), sorted."""
    skip = set(except_flags)
    return tuple(sorted({a.default.key for a in parser._actions
                         if isinstance(a.default, ConfigDefault)
                         and not skip & set(a.option_strings)}))


def preset_help(knob: str, only: str | None = None) -> str:
    """Each protocol preset's value of ``knob`` for a help text (``paper 0.1, extended 0.5``;
    ``only``: that preset's value alone), read from the schema's presets, their one place."""
    from clover.config import protocol_presets

    def fmt(value) -> str:
        if isinstance(value, Mapping):
            return ", ".join(f"{k} {v}" for k, v in value.items())
        return f"{value:g}" if isinstance(value, float) else str(value)

    presets = protocol_presets()
    if only is not None:
        return fmt(presets[only][knob])
    return ", ".join(f"{name} {fmt(knobs[knob])}" for name, knobs in presets.items())


def add_protocol_args(parser) -> None:
    """``--protocol`` and one flag per knob (None = the preset's), defaulting to the config
    keys of the same names; see clover.sim.protocol. :func:`protocol_overrides` reads the
    knobs."""
    config_option(parser, "--protocol", key="protocol",
                  help="paper (the original artifact's experiment) or extended "
                       "(this project's generalisation); default %(default)s")
    config_option(parser, "--base-gpu-factor", key="base_gpu_factor", type=int,
                  help=f"k: BASE runs on k x N GPUs ({preset_help('base_gpu_factor')})")
    config_option(parser, "--space", key="space", help="replicated or per-gpu")
    config_option(parser, "--dispatch", key="dispatch", help="fcfs or optimal")
    config_option(parser, "--request-batch", key="request_batch",
                  help="images/questions per request: an integer for every app or a "
                       "JSON object app -> integer (paper: "
                       f"{preset_help('request_batch', 'paper')})")
    config_option(parser, "--base-utilisation", key="base_utilisation", type=float,
                  help="BASE's utilisation at its own load, sets the rate "
                       f"({preset_help('base_utilisation')})")



def protocol_overrides(args) -> dict:
    """The protocol knobs of :func:`add_protocol_args` flags (None = the preset's), typed:
    ``--request-batch`` JSON becomes an integer or an app -> integer mapping."""
    batch = args.request_batch
    if isinstance(batch, str):
        try:
            batch = json.loads(batch)
        except json.JSONDecodeError:
            raise CloverError(f"--request-batch: expected an integer or a JSON object "
                              f"(got {batch!r})") from None
    return {"base_gpu_factor": args.base_gpu_factor, "space": args.space,
            "dispatch": args.dispatch, "request_batch": batch,
            "base_utilisation": args.base_utilisation}


def add_command_group(sub, name: str, help: str):
    """``clover NAME ACTION ...``: a sub-command ``name`` whose own sub-commands (dest
    ``<name>_command``, shown as ``ACTION``) are required; returns their subparsers object."""
    parser = sub.add_parser(name, help=help)
    actions = parser.add_subparsers(dest=f"{name}_command", metavar="ACTION")
    actions.required = True
    return actions


def add_json_flag(parser, help: str | None = "machine-readable output") -> None:
    """The ``--json`` switch of the listing commands (``help`` as each command words it)."""
    parser.add_argument("--json", action="store_true", help=help)
