"""The light name registries (clover.names, clover.mig.geometry.DEFAULT_GPU) agree with what
they name, and the commands offer them (no copy of the scheme list in a CLI module)."""

from __future__ import annotations

import argparse

from clover.cli import build_parser
from clover.cliutil import ConfigDefault
from clover.mig.geometry import DEFAULT_GPU, GPUS
from clover.names import PROTOCOL_NAMES, SCHEME_NAMES


def _option(words, flag):
    parser = build_parser(words[0])
    for word in words:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    return next(a for a in parser._actions if flag in a.option_strings)


def test_scheme_names_are_the_implemented_schemes_in_order():
    from clover.names import scheme_names
    from clover.optimize.registry import SCHEMES
    from clover.optimize.schemes import DEFAULTS

    assert tuple(SCHEMES) == scheme_names()[:len(SCHEME_NAMES)] == SCHEME_NAMES
    assert tuple(DEFAULTS) == ("base", "co2opt", "oracle", "clover", "blover", "jung", "sa-raw",
                             "static", "static-daily")
    assert set(DEFAULTS) == set(SCHEME_NAMES)
    for name in SCHEME_NAMES:  # each built-in states its parameters, in every space
        entry = SCHEMES[name]
        assert entry.origin == "built-in" and entry.cls.default_params is DEFAULTS[name]
        assert all(v.default_params is DEFAULTS[name] for v in entry.variants.values())


def test_commands_offer_the_registry():
    from clover.names import scheme_names

    for words, flag in ((["run"], "--scheme"), (["run-grid"], "--schemes"),
                        (["optimize"], "--scheme"), (["gpu-count"], "--schemes")):
        assert tuple(_option(words, flag).choices) == scheme_names(), words


def test_default_gpu_is_the_artifacts_a100_in_the_catalog():
    assert DEFAULT_GPU in GPUS and GPUS[DEFAULT_GPU].name == "NVIDIA A100-SXM4-40GB"
    for words in (["optimize"], ["run"], ["space"], ["mig", "layouts"], ["mig", "plan"]):
        default = _option(words, "--gpu").default
        # a config option's default is the schema's, read when no --config sets it
        default = default.value() if isinstance(default, ConfigDefault) else default
        assert default == DEFAULT_GPU, words


def test_protocol_names_are_the_protocols_and_the_commands_offer_them():
    from clover.sim.protocol import PROTOCOLS

    assert PROTOCOLS == PROTOCOL_NAMES == ("paper", "extended")
    for words in (["aggregate"], ["gpu-count"]):
        assert tuple(_option(words, "--protocol").choices) == PROTOCOL_NAMES, words
