"""The run configuration: one frozen, typed :class:`RunConfig` built from the config dict.

``clover/config.schema.yaml`` (package data) is the one place of the configuration's
defaults and bounds. :func:`validated` checks a config dict against it and fills every
default (jsonschema with default-filling, as Snakemake's ``validate`` does); a bad value is
one :class:`~clover.errors.CloverError` naming the key (``config control.eval_window_s: -1
is less than the minimum of 0``). :class:`RunConfig` holds the result as nested frozen
dataclasses, one per section. The pipeline writes the effective config (config/config.yaml,
``--configfile``, ``--config key=value``, defaults filled) to one file named by its hash
(:func:`write_effective_config`) and every rule passes it to its command as ``--config FILE``;
the commands' flags take their defaults from the same schema
(:func:`clover.cliutil.config_option`), so a hand-run command and a pipeline job agree.
"""

from __future__ import annotations

import copy
import json
import os
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from clover.errors import CloverError

#: the schema file, package data of ``clover``
SCHEMA_FILE = "config.schema.yaml"


@lru_cache(maxsize=None)
def config_schema() -> dict:
    """The configuration's JSON Schema (``clover/config.schema.yaml``), itself checked: the
    one parse of :func:`_schema_tree`, checked once per process. The scheme names' enum is
    the scheme registry's at load time (:func:`clover.names.scheme_names`: the built-ins and
    the ``clover.schemes`` entry points of the installed distributions)."""
    import jsonschema

    from clover.names import scheme_names

    schema = copy.deepcopy(_schema_tree())
    schema["definitions"]["scheme"]["enum"] = list(scheme_names())
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


@lru_cache(maxsize=None)
def _schema_tree() -> dict:
    """The schema file as plain YAML, for its defaults: no jsonschema import, so that a
    command's startup stays light (``tests/test_cli_index.py``)."""
    from importlib import resources

    import yaml

    text = resources.files("clover").joinpath(SCHEMA_FILE).read_text()
    # libyaml's loader when present: the schema is read by every command (~20x faster)
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _subschema(key: str) -> dict:
    """The schema of dotted ``key`` (``control.eval_window_s``); LookupError if unknown."""
    node = _schema_tree()
    for part in key.split("."):
        props = node.get("properties", {})
        if part not in props:
            raise LookupError(f"config key {key!r} is not in {SCHEMA_FILE}")
        node = props[part]
    return node


def schema_default(key: str) -> Any:
    """The schema's default of dotted ``key`` (a copy; None when the key has none)."""
    return copy.deepcopy(_subschema(key).get("default"))


def protocol_presets() -> dict:
    """name -> every knob of that protocol preset (the schema's ``x-protocol-presets``, the
    one place of them; :mod:`clover.sim.protocol` builds its objects from it). A copy."""
    return copy.deepcopy(_schema_tree()["x-protocol-presets"])


def _fill_defaults(instance: dict, schema: dict) -> None:
    """Set every missing key that has a schema default, sections first, in place."""
    import jsonschema

    base = jsonschema.Draft202012Validator
    check_properties = base.VALIDATORS["properties"]

    def properties(validator, props, inst, sch):
        if isinstance(inst, dict):
            for name, sub in props.items():
                if "default" in sub and name not in inst:
                    inst[name] = copy.deepcopy(sub["default"])
        yield from check_properties(validator, props, inst, sch)

    filler = jsonschema.validators.extend(base, {"properties": properties})
    for _ in filler(schema).iter_errors(instance):  # errors are reported below, in order
        pass


def _error_line(error, where: str) -> str:
    """One line naming the key ``error`` is about."""
    from clover.schemas import field_path, missing_property

    path = field_path(error)
    if error.validator == "additionalProperties" and error.validator_value is False:
        known = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(known))[0]
        return f"{where} {'.'.join([*path, extra])}: not a known key (known: {', '.join(known)})"
    if error.validator == "required":
        return f"{where} {'.'.join([*path, missing_property(error)])}: missing (required)"
    return f"{where} {'.'.join(path) or '(top level)'}: {error.message}"


def validated(raw: Mapping[str, Any], where: str = "config") -> dict:
    """A deep copy of ``raw`` checked against the schema, every default filled.

    Raises CloverError (one line, ``where`` then the dotted key) for the first problem."""
    from clover.schemas import first_error

    if not isinstance(raw, Mapping):
        raise CloverError(f"{where}: expected a mapping of keys, got {type(raw).__name__}")
    data = copy.deepcopy(dict(raw))
    schema = config_schema()
    _fill_defaults(data, schema)
    error = first_error(data, schema)
    if error is not None:
        raise CloverError(_error_line(error, where))
    return data


def _frozen(value: Any) -> Any:
    """Lists as tuples, mappings as read-only mappings, recursively."""
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    return value


def _section_type(hint: Any) -> type | None:
    """The section dataclass a field holds (``X`` or ``X | None``), else None."""
    if is_dataclass(hint):
        return hint
    return next((a for a in typing.get_args(hint) if is_dataclass(a)), None)


def _build(cls: type, data: Mapping[str, Any]):
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in fields(cls):
        if not f.init:
            continue
        value = data.get(f.name)
        section = _section_type(hints[f.name])
        kwargs[f.name] = _build(section, value) if section and value is not None else _frozen(value)
    return cls(**kwargs)


@dataclass(frozen=True)
class ProfilesConfig:
    """Per-slice profile tables (docs/profiles.md): backend and measurement settings."""

    backend: str
    extra_gpus: tuple[str, ...]
    iters: int
    warmup: int
    input_scale: float


@dataclass(frozen=True)
class RegionsConfig:
    """One window (49 h) per zone x season of ``year`` (Electricity Maps traces)."""

    zones: tuple[str, ...]
    seasons: tuple[str, ...]
    year: int
    apps: tuple[str, ...]
    schemes: tuple[str, ...]
    protocols: tuple[str, ...] | None  #: None: [protocol]


@dataclass(frozen=True)
class LamSweepConfig:
    """λ values (and accuracy floors, % loss vs BASE) on one trace."""

    apps: tuple[str, ...]
    trace: str
    schemes: tuple[str, ...]
    values: tuple[float, ...]
    max_accuracy_loss_pct: tuple[float, ...]
    protocols: tuple[str, ...] | None  #: None: [protocol]


@dataclass(frozen=True)
class ProblemConfig:
    """Keyword arguments of ``Problem.build``; None = its own default."""

    load_fraction: float | None
    sla_factor: float | None
    sla_ms: float | None
    rate_rps: float | None
    ci_ref: float | None
    pue: float | None

    def kwargs(self) -> dict[str, float]:
        """The keys the config sets, as ``Problem.build`` keyword arguments."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class ControlConfig:
    """The controller's accounting (seconds; MB/s), docs/controller.md."""

    eval_window_s: float
    mig_repartition_s: float
    model_load_base_s: float
    model_load_mb_per_s: float
    initial: str


@dataclass(frozen=True)
class GpuCountConfig:
    """The service target of ``clover gpu-count`` (g/kWh, % accuracy loss)."""

    apps: tuple[str, ...]
    schemes: tuple[str, ...]
    base_gpus: int
    max_gpus: int
    max_accuracy_loss_pct: float
    ci_g_per_kwh: float
    protocol: str


@dataclass(frozen=True)
class EmbodiedConfig:
    """Embodied carbon per GPU, kgCO2e, and where the number comes from."""

    kg_co2e_per_gpu: float
    source: str


@dataclass(frozen=True)
class YearConfig:
    """The year study (clover.control.year): datasets (dataset, year, zones), apps, schemes,
    protocol, λ (None: the protocol's), seed, the stated service in requests/s, the zones one
    job runs, and whether ``all`` runs the year (its claims in the main claims table)."""

    datasets: tuple[Mapping[str, Any], ...]
    apps: tuple[str, ...]
    schemes: tuple[str, ...]
    protocol: str
    lam: float | None
    seed: int
    service_rps: float
    zones_per_job: int
    in_all: bool


@dataclass(frozen=True)
class RunConfig:
    """The whole configuration, validated, defaults filled (one field per schema key)."""

    data_dir: str | None
    gpu: str
    n_gpus: int | None
    backend: str
    profiles: ProfilesConfig
    allow_mig_changes: bool
    seed: int
    seeds: tuple[int, ...]
    hours: int | None
    protocol: str
    base_gpu_factor: int | None
    space: str | None
    dispatch: str | None
    request_batch: int | Mapping[str, int] | None
    base_utilisation: float | None
    apps: tuple[str, ...]
    schemes: tuple[str, ...]
    lam: float | None
    protocols: tuple[str, ...] | None  #: None: [protocol]
    traces: Mapping[str, str]
    regions: RegionsConfig | None
    lam_sweep: LamSweepConfig | None
    problem: ProblemConfig
    scheme_params: Mapping[str, Mapping[str, Any]]
    control: ControlConfig
    gpu_count: GpuCountConfig
    embodied: EmbodiedConfig
    year: YearConfig
    #: the validated plain dict (JSON types), for :meth:`get`, :meth:`as_dict`
    _data: Mapping[str, Any] = field(init=False, repr=False, compare=False, default=None)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], where: str = "config") -> RunConfig:
        """Validate ``raw`` (defaults filled; CloverError naming the key) and build."""
        data = validated(raw, where)
        out = _build(cls, data)
        object.__setattr__(out, "_data", MappingProxyType(data))
        return out

    def get(self, key: str) -> Any:
        """The plain value of dotted ``key`` (``control.eval_window_s``); None if absent."""
        _subschema(key)  # a key the schema does not know is a programming error
        node: Any = self._data
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        return copy.deepcopy(node)

    def as_dict(self) -> dict:
        """The validated config as plain JSON types (a copy)."""
        return copy.deepcopy(dict(self._data))

    def settings(self, keys: Iterable[str]) -> str:
        """Canonical JSON of the values of ``keys``: a rule's rerun trigger (its params)."""
        # nested keys keep their order: the order of ``traces`` is the order of output rows
        return json.dumps({k: self.get(k) for k in sorted(set(keys))}, separators=(",", ":"))

    def trace_specs(self) -> dict[str, str]:
        """Every trace the pipeline runs on, name -> clover.carbon spec: ``traces``, then
        one window per zone x season of ``regions`` (``ZONE:season:year``)."""
        specs = dict(self.traces)
        if self.regions is not None:
            for zone in self.regions.zones:
                for season in self.regions.seasons:
                    specs[f"{zone}.{season}"] = f"{zone}:{season}:{self.regions.year}"
        return specs

    def trace_spec(self, name: str) -> str:
        """The spec of trace ``name`` (CloverError naming it when the config has none)."""
        specs = self.trace_specs()
        if name not in specs:
            raise CloverError(f"unknown trace {name!r}: not in config traces or regions")
        return specs[name]

    def profile_gpus(self) -> list[str]:
        """The configured GPU and ``profiles.extra_gpus``, sorted, unique."""
        return sorted({self.gpu, *self.profiles.extra_gpus})


def yaml_error_text(exc: Exception) -> str:
    """A PyYAML error as ``line L column C: YAML syntax error: PROBLEM`` (the mark 1-based)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or str(exc)
    return f"{where}YAML syntax error: {problem}"


def yaml_file_error_text(path: str | os.PathLike[str], exc: Exception,
                         kind: str = "config") -> str:
    """``KIND file PATH line L column C: YAML syntax error: PROBLEM``: the one wording of a YAML
    syntax error in a file, for ``clover ... --config``, :mod:`clover.pipeline_check`, cluster
    files and the Snakemake ``--configfile`` hook (:mod:`snakemake_logger_plugin_clover`)."""
    return f"{kind} file {path} {yaml_error_text(exc)}"


def load_run_config(path: str | os.PathLike[str]) -> RunConfig:
    """:class:`RunConfig` of a JSON or YAML file (``--config FILE``)."""
    import yaml

    from clover.paths import read_text
    from clover.schemas import load_yaml

    text = read_text(path, "config file")
    try:
        raw = json.loads(text) if str(path).endswith(".json") else load_yaml(text)
    except json.JSONDecodeError as exc:
        raise CloverError(f"config file {path}: not valid JSON (line {exc.lineno} column "
                          f"{exc.colno}: {exc.msg})") from None
    except yaml.YAMLError as exc:
        raise CloverError(yaml_file_error_text(path, exc)) from None
    return RunConfig.from_dict(raw if raw is not None else {}, where=f"config file {path}:")


def write_effective_config(config: RunConfig, directory: str | os.PathLike[str]) -> str:
    """Write ``config`` as JSON to ``directory/<sha256 prefix>.json`` and return that path.

    The name is the content's hash, so a file is never rewritten with other content: two
    invocations with different configs (a dry run beside a running pipeline) do not disturb
    each other, and no file is ever stale. Key order is kept (``traces``: output row order)."""
    import hashlib
    from pathlib import Path

    from clover.paths import atomic_write

    text = json.dumps(config.as_dict(), indent=1) + "\n"
    path = Path(directory) / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
    try:
        if path.read_text(encoding="utf-8") == text:
            return str(path)
    except OSError:
        pass
    with atomic_write(path) as fh:
        fh.write(text)
    return str(path)
