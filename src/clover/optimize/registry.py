"""The scheme registry (in the style of Vidur's registries): name -> the scheme's class, per
search space, filled by the built-ins and by the entry-point group ``clover.schemes``.

A scheme is a :class:`clover.optimize.schemes.Scheme` subclass. A built-in may have a variant
per search space (``space: replicated``: :mod:`clover.optimize.replicated`); the protocol of
the problem names its space, and :func:`make_scheme` takes that space's variant, else the
scheme's own class. An installed distribution adds a scheme by declaring an entry point
``NAME = "package.module:SchemeClass"`` in the group ``clover.schemes``
(:data:`clover.names.SCHEME_GROUP`; docs/extending.md): ``clover run --scheme NAME``, the
config's ``schemes:`` lists and the schema accept it, and it is loaded when first built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Mapping

from clover.errors import CloverError
from clover.names import SCHEME_GROUP, scheme_entry_points, scheme_names
from clover.optimize.replicated import (ReplicatedBlover, ReplicatedClover, ReplicatedCo2Opt,
                                        ReplicatedOracle)
from clover.optimize.schemes import (BaseScheme, BloverScheme, CloverScheme, Co2OptScheme,
                                     JungScheme, OracleScheme, SaRawScheme, Scheme,
                                     check_params_against)
from clover.optimize.static import StaticDailyScheme, StaticScheme
from clover.sim.evaluator import Evaluator
from clover.sim.problem import Problem


@dataclass(frozen=True)
class SchemeEntry:
    """One registered scheme: its class, its variants per search space, where it comes from
    (``built-in`` or the entry point's ``module:attr``)."""

    name: str
    cls: type
    variants: Mapping[str, type] = field(default_factory=dict)
    origin: str = "built-in"


class Registry:
    """name -> :class:`SchemeEntry`; iterates over every name (built-ins first, then the
    entry points, sorted) without loading a plug-in."""

    def __init__(self) -> None:
        self._entries: dict[str, SchemeEntry] = {}

    def register(self, name: str, cls: type, origin: str = "built-in", **variants) -> None:
        """Register ``cls`` as scheme ``name``; ``variants``: space (``replicated``) -> class."""
        if not (isinstance(cls, type) and issubclass(cls, Scheme)):
            raise CloverError(f"scheme {name!r} ({origin}): {cls!r} is not a "
                              "clover.optimize.Scheme subclass")
        self._entries[name] = SchemeEntry(name, cls, dict(variants), origin)

    def __iter__(self) -> Iterator[str]:
        return iter(scheme_names())

    def __len__(self) -> int:
        return len(scheme_names())

    def __contains__(self, name: object) -> bool:
        return name in scheme_names()

    def __getitem__(self, name: str) -> SchemeEntry:
        """The entry of ``name``, loading its entry point the first time; CloverError naming
        the known schemes for an unknown name."""
        key = str(name).lower()
        if key not in self._entries:
            ep = scheme_entry_points().get(key)
            if ep is None:
                raise CloverError(f"unknown scheme {name!r} (known: {', '.join(self)})")
            try:
                cls = ep.load()
            except Exception as exc:  # a broken plug-in is one line naming it
                raise CloverError(f"scheme {key!r}: entry point {ep.value} ({SCHEME_GROUP}) "
                                  f"does not load: {type(exc).__name__}: {exc}") from None
            self.register(key, cls, origin=ep.value)
        return self._entries[key]


#: the scheme registry: the built-ins here, the entry points on first use
SCHEMES = Registry()
SCHEMES.register("base", BaseScheme)
SCHEMES.register("co2opt", Co2OptScheme, replicated=ReplicatedCo2Opt)
SCHEMES.register("clover", CloverScheme, replicated=ReplicatedClover)
SCHEMES.register("blover", BloverScheme, replicated=ReplicatedBlover)
SCHEMES.register("oracle", OracleScheme, replicated=ReplicatedOracle)
SCHEMES.register("jung", JungScheme)
SCHEMES.register("sa-raw", SaRawScheme)
SCHEMES.register("static", StaticScheme)
SCHEMES.register("static-daily", StaticDailyScheme)


def check_scheme_params(name: str, params: Mapping, where: str) -> dict:
    """``params`` of scheme ``name`` checked against its ``default_params`` (known keys, each
    of its default's type, non-negative; :data:`~clover.optimize.schemes.POSITIVE_PARAMS`
    positive); ``where`` names the source in the error (``--param``, ``scheme clover``)."""
    return check_params_against(SCHEMES[name].cls.default_params, params, where)


def make_scheme(name: str, problem: Problem, evaluator: Evaluator | None = None,
                **params) -> Scheme:
    """The scheme ``name`` (base, co2opt, clover, blover, oracle, jung, sa-raw or a plug-in)
    for ``problem``, in the search space of the problem's protocol (``space: replicated``
    uses :mod:`clover.optimize.replicated` for clover, blover, oracle and co2opt)."""
    cls = problem.protocol.scheme_variant(SCHEMES[name])
    return cls(problem, evaluator, **params)
