"""Names of the registries that a command line offers before it imports what implements them.

``clover run --scheme``, ``clover optimize --scheme`` and the config schema's scheme enum need
the scheme and protocol names, but importing :mod:`clover.optimize` (scipy, networkx) at ``clover``
startup would cost every pipeline job ~1 s. This module holds the names only; the
implementation (:mod:`clover.optimize.registry`, ``DEFAULTS``) and the schema
(``clover/config.schema.yaml``) are checked against it by ``tests/test_config.py``.

Schemes are a plug-in point: an installed distribution that declares an entry point in the
group :data:`SCHEME_GROUP` (``name = "package.module:SchemeClass"``) adds the scheme ``name``
(docs/extending.md). :func:`scheme_names` lists them without importing them.
"""

from __future__ import annotations

from functools import lru_cache

#: the experiment protocols (:mod:`clover.sim.protocol`), in the order tables show them
PROTOCOL_NAMES = ("paper", "extended")
#: every built-in scheme :func:`clover.optimize.make_scheme` knows, in its order
SCHEME_NAMES = ("base", "co2opt", "clover", "blover", "oracle", "jung", "sa-raw", "static",
                "static-daily")
#: the entry-point group of third-party schemes (importlib.metadata)
SCHEME_GROUP = "clover.schemes"


def scheme_entry_points() -> dict:
    """name -> :class:`importlib.metadata.EntryPoint` of every installed third-party scheme
    (group :data:`SCHEME_GROUP`), not loaded; a built-in name cannot be taken over."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=SCHEME_GROUP)
            if ep.name not in SCHEME_NAMES}


@lru_cache(maxsize=None)
def scheme_names() -> tuple[str, ...]:
    """Every scheme a run accepts: :data:`SCHEME_NAMES`, then the entry points' names, sorted
    (read once per process)."""
    return SCHEME_NAMES + tuple(sorted(scheme_entry_points()))
