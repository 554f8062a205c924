"""Parse-time checks of the pipeline configuration (called from ``workflow/Snakefile``).

``snakemake -n`` must report a bad configuration by name before any job runs
(docs/reliability.md): a YAML syntax error names the file and line; a value the config schema
refuses names the key (:func:`check_run_config`); a bad carbon trace spec
(unknown zone or season, a zone that is not a plain name such as ``../x``, a year out of
range) names the trace. Raises :class:`ConfigCheckError`, which Snakemake prints as one
message.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable, Mapping

from clover.config import RunConfig, yaml_file_error_text
from clover.errors import CloverError

#: a zone as the carbon datasets name them (US-CAL-CISO, DE, GB, ...): no path characters
ZONE_RE = re.compile(r"^[A-Za-z0-9_-]+$")


class ConfigCheckError(CloverError):
    """A configuration problem found at parse time; the message names the file or field."""


def check_yaml_files(paths: Iterable[str | os.PathLike[str]]) -> None:
    """Each existing YAML file parses; else an error naming the file, line and column."""
    import yaml

    from clover.paths import read_text
    from clover.schemas import load_yaml

    for path in paths:
        path = Path(path)
        if not path.is_file():
            continue
        try:
            load_yaml(read_text(path, "config file"))
        except yaml.YAMLError as exc:
            raise ConfigCheckError(yaml_file_error_text(path, exc)) from None
        except CloverError as exc:  # unreadable, not UTF-8, over the size cap
            raise ConfigCheckError(exc.message) from None


def check_run_config(config: Mapping) -> RunConfig:
    """The pipeline's :class:`~clover.config.RunConfig` (schema defaults filled); a bad key or
    value is one line naming the key (``config seed: -1 is less than the minimum of 0``)."""
    try:
        return RunConfig.from_dict(config)
    except CloverError as exc:
        raise ConfigCheckError(exc.message) from None


def _known_zones(data_dir: str | None) -> set[str]:
    """Zones in the data directory's carbon datasets (empty when there is no data yet, e.g.
    a clean clone before ``clover data download``: then only the spelling is checked)."""
    from clover.carbon.datasets import DATASETS, _known_zones as known
    from clover.paths import resolve_data_dir

    try:
        root = resolve_data_dir(data_dir)
    except CloverError:
        return set()
    return set(known(root, DATASETS))


def check_trace_specs(specs: Mapping[str, str], data_dir: str | None = None) -> None:
    """Every trace spec of the pipeline (name -> clover.carbon spec) parses, names a plain
    zone and, when the data directory holds carbon data, a zone that exists there."""
    from clover.carbon import parse_trace_spec

    zones: set[str] | None = None
    for name, spec in specs.items():
        try:
            parsed = parse_trace_spec(spec)
        except CloverError as exc:
            raise ConfigCheckError(f"config trace {name!r}: {exc.message}") from None
        if parsed.kind == "file":
            if not Path(parsed.path).is_file():
                raise ConfigCheckError(f"config trace {name!r}: trace file {parsed.path} "
                                       "not found")
            continue
        if parsed.kind == "preset":
            continue
        if not ZONE_RE.match(parsed.zone):
            raise ConfigCheckError(f"config trace {name!r}: zone {parsed.zone!r} is not a "
                                   "zone name (letters, digits, '-' and '_' only)")
        if zones is None:
            zones = _known_zones(data_dir)
        if zones and parsed.zone not in zones:
            raise ConfigCheckError(f"config trace {name!r}: unknown zone {parsed.zone!r} "
                                   f"(not in the carbon data; e.g. {', '.join(sorted(zones)[:8])})")


def _deep_update(into: dict, new: Mapping) -> None:
    """Merge ``new`` into ``into`` as Snakemake merges config files (mappings key by key)."""
    if not isinstance(new, Mapping):
        raise ConfigCheckError(f"config: expected a mapping of keys, got {type(new).__name__}")
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _deep_update(into[key], value)
        else:
            into[key] = value


def main(argv: list[str] | None = None) -> int:
    """``python -m clover.pipeline_check FILE ...``: check config files before Snakemake does.

    Names a YAML error's file, line and column (as ``snakemake`` does for a ``--configfile``
    through :mod:`snakemake_logger_plugin_clover`), then checks the merged values against the
    schema, as the workflow would, without starting Snakemake."""
    import sys

    from clover.paths import read_text
    from clover.schemas import load_yaml

    paths = list(sys.argv[1:] if argv is None else argv)
    try:
        check_yaml_files(paths)
        merged: dict = {}
        for path in paths:
            _deep_update(merged, load_yaml(read_text(path, "config file")) or {})
        check_run_config(merged)
    except CloverError as exc:
        print(f"clover: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    print(f"config ok: {', '.join(paths)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
