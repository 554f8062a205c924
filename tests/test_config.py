"""clover.config: one typed RunConfig from the schema-validated config; the schema
(src/clover/config.schema.yaml) is the one place of the defaults, for the pipeline and for
the commands' flags alike; a bad value is one CloverError naming the key."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import fields, is_dataclass
from pathlib import Path

import pytest
import yaml

from clover.cli import build_parser, command_settings, config_keys
from clover.cliutil import ConfigDefault
from clover.config import (RunConfig, config_schema, load_run_config, schema_default,
                           write_effective_config)
from clover.errors import CloverError

REPO = Path(__file__).resolve().parents[1]
CONFIGS = {"default": REPO / "config" / "config.yaml", "test": REPO / ".test" / "config" / "config.yaml"}
#: the smallest valid config: the keys without a default
MINIMAL = {"apps": ["yolo"], "schemes": ["base"], "traces": {"CISO-March": "CISO-March"},
           "gpu_count": {"apps": ["yolo"]}}


def _raw(name: str = "test") -> dict:
    return yaml.safe_load(CONFIGS[name].read_text())


def _defaulted_keys(node: dict, prefix: str = ""):
    """Every dotted key of the schema that states a default."""
    for name, sub in node.get("properties", {}).items():
        key = f"{prefix}{name}"
        if "default" in sub:
            yield key
        yield from _defaulted_keys(sub, f"{key}.")


def _parsers(parser: argparse.ArgumentParser, words=()):
    """(words, parser) of every command and sub-command."""
    yield words, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*words, name))


def test_the_schema_is_valid_and_its_enums_are_the_registries():
    from clover.mig.geometry import DEFAULT_GPU, GPUS
    from clover.models.catalog import APPS
    from clover.names import scheme_names
    from clover.profiles import BACKENDS
    from clover.sim.protocol import DISPATCHES, PROTOCOLS, SPACES
    from clover.carbon.seasons import SEASON_STARTS

    schema = config_schema()  # jsonschema's check_schema passed
    d, p = schema["definitions"], schema["properties"]
    assert tuple(d["gpu"]["enum"]) == tuple(GPUS) and p["gpu"]["default"] == DEFAULT_GPU
    assert tuple(d["scheme"]["enum"]) == scheme_names()  # the registry's, at load time
    assert set(d["app"]["enum"]) == set(APPS)
    assert tuple(d["protocol"]["enum"]) == PROTOCOLS
    assert tuple(p["profiles"]["properties"]["backend"]["enum"]) == BACKENDS
    assert tuple(p["space"]["enum"]) == (*SPACES, None)
    assert tuple(p["dispatch"]["enum"]) == (*DISPATCHES, None)
    assert tuple(p["regions"]["properties"]["seasons"]["items"]["enum"]) == tuple(SEASON_STARTS)


def test_defaults_come_from_the_schema():
    sweep = {"apps": ["yolo"], "trace": "CISO-March", "schemes": ["clover"], "values": [0.5]}
    config = RunConfig.from_dict({**MINIMAL, "lam_sweep": sweep})  # its floors default to []
    keys = list(_defaulted_keys(config_schema()))
    assert len(keys) > 30
    for key in keys:
        if schema_default(key) != {}:  # a section's {}: its keys are checked one by one
            assert config.get(key) == schema_default(key), key
    # typed, frozen sections
    assert config.control.eval_window_s == 30 and config.control.initial == "base"
    assert config.profiles.extra_gpus == ("h100-80gb",) and config.seed == 0
    assert config.protocol == "extended" and config.gpu_count.protocol == "paper"
    assert config.gpu_count.schemes == ("base", "co2opt", "jung", "clover", "oracle")
    assert config.embodied.kg_co2e_per_gpu == 318 and config.regions is None
    assert config.lam_sweep.max_accuracy_loss_pct == () and config.lam_sweep.protocols is None
    assert config.problem.kwargs() == {"load_fraction": 0.6, "sla_factor": 1.0, "ci_ref": 250,
                                       "pue": 1.5} and dict(config.scheme_params) == {}
    with pytest.raises(AttributeError):
        config.control.eval_window_s = 1  # frozen


def test_dataclasses_mirror_the_schema():
    """One field per schema key, in every section (a new key cannot be forgotten)."""
    schema = config_schema()
    config = RunConfig.from_dict(_raw())  # every section present
    assert sorted(f.name for f in fields(RunConfig) if f.init) == sorted(schema["properties"])
    sections = {f.name: getattr(config, f.name) for f in fields(RunConfig) if f.init
                and is_dataclass(getattr(config, f.name))}
    assert set(sections) == {"profiles", "regions", "lam_sweep", "problem", "control",
                             "gpu_count", "embodied", "year"}
    for name, section in sections.items():
        assert sorted(f.name for f in fields(section)) == \
            sorted(schema["properties"][name]["properties"]), name


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_the_shipped_configs_load(name):
    config = load_run_config(CONFIGS[name])
    assert config == RunConfig.from_dict(_raw(name))
    assert config.protocol == "paper" and config.lam == 0.1
    assert config.protocols == ("paper", "extended")
    if name == "test":
        assert (config.n_gpus, config.hours, config.apps) == (4, 4, ("efficientnet",))
        assert config.trace_specs() == {"CISO-March": "CISO-March", "DE.winter": "DE:winter:2023",
                                        "DE.summer": "DE:summer:2023"}
        assert config.profile_gpus() == ["a100-40gb"]
    else:
        assert config.n_gpus is None and len(config.trace_specs()) == 3 + 8 * 2
        assert config.profile_gpus() == ["a100-40gb", "h100-80gb"]
        assert config.problem.kwargs() == {"load_fraction": 0.6, "sla_factor": 1.0,
                                           "ci_ref": 250, "pue": 1.5}


@pytest.mark.parametrize("change, message", [
    ({"seed": -1}, "config seed: -1 is less than the minimum of 0"),
    ({"lam": 1.5}, "config lam: 1.5 is greater than the maximum of 1"),
    ({"bogus": 1}, "config bogus: not a known key (known: allow_mig_changes, apps,"),
    ({"control": {"eval_window_s": 0}}, "config control.eval_window_s: 0 is less than or equal"),
    ({"control": {"windw": 3}}, "config control.windw: not a known key"),
    ({"gpu_count": {"max_gpus": 3}}, "config gpu_count.apps: missing (required)"),
    ({"gpu": "a100"}, "config gpu: 'a100' is not one of ['a100-40gb'"),
    ({"schemes": ["base", "clover2"]}, "config schemes.1: 'clover2' is not one of"),
    ({"scheme_params": {"clover2": {}}}, "config scheme_params: 'clover2' is not one of"),
    ({"traces": {"CISO-March": 3}}, "config traces.CISO-March: 3 is not of type 'string'"),
])
def test_a_bad_value_is_one_error_naming_the_key(change, message):
    raw = {**_raw(), **change}
    with pytest.raises(CloverError) as err:
        RunConfig.from_dict(raw)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_every_config_option_names_a_schema_key():
    found = {}
    for words, parser in _parsers(build_parser()):
        for d in [a.default for a in parser._actions if isinstance(a.default, ConfigDefault)]:
            d.value()  # LookupError for a key the schema does not know
            found.setdefault(" ".join(words), set()).add(d.key)
    assert {"run", "run-grid", "gpu-count", "aggregate", "figures", "decomposition",
            "reference-check", "profile", "data verify", "carbon show"} <= set(found)
    assert "control.eval_window_s" in found["run-grid"]


def test_flags_override_the_config_file_which_overrides_the_schema(tmp_path):
    raw = _raw()
    raw["control"]["mig_repartition_s"] = 9
    raw["seed"] = 7
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw))
    base = ["run-grid", "--app", "yolo", "--trace", "CISO-March", "--schemes", "base",
            "--out", "x.csv"]
    args = build_parser("run-grid").parse_args([*base, "--config", str(path),
                                                "--eval-window-s", "7"])
    assert (args.eval_window_s, args.mig_repartition_s, args.seed) == (7.0, 9.0, 7)
    assert (args.n_gpus, args.hours, args.protocol) == (4, 4, "paper")
    assert args.problem_json == {"load_fraction": 0.6, "sla_factor": 1.0, "ci_ref": 250,
                                 "pue": 1.5}
    hand = build_parser("run-grid").parse_args(base)
    assert (hand.eval_window_s, hand.mig_repartition_s, hand.seed) == (30.0, 5.0, 0)
    assert (hand.n_gpus, hand.protocol, hand.problem_json) == (None, "extended", {})


def test_a_bad_config_file_is_one_line_naming_file_and_key(run_cli, tmp_path):
    raw = _raw()
    raw["control"]["initial"] = "all"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    code, _, err = run_cli("gpu-count", "--config", str(path), "--app", "yolo")
    assert code == 2
    assert err == (f"clover: error: config file {path}: control.initial: 'all' is not one of "
                   "['base', 'none']\n")
    code, _, err = run_cli("aggregate", "--config", str(tmp_path / "none.json"), "--runs", "x",
                           "--hourly", "h", "--summary", "s", "--gpus", "g", "--markdown", "m")
    assert code == 2 and len(err.splitlines()) == 1 and "none.json" in err


def test_rule_settings_name_only_what_the_command_reads():
    config = RunConfig.from_dict(_raw())
    run = config_keys("run-grid", given=("--lam", "--protocol"))
    assert "control.eval_window_s" in run and "seed" in run and "problem" in run
    assert "lam" not in run and "protocol" not in run  # the rule gives them as flags
    assert not [k for k in run if k.startswith(("embodied", "gpu_count", "apps"))]
    assert set(config_keys("figures")) == {"embodied.kg_co2e_per_gpu", "embodied.source",
                                           "lam", "protocol"}
    assert json.loads(command_settings(config, "reference-check")) == {"data_dir": None,
                                                                        "seed": 0}


def test_the_effective_config_file_is_named_by_its_content(tmp_path):
    config = RunConfig.from_dict(_raw())
    path = write_effective_config(config, tmp_path)
    assert Path(path).parent == tmp_path and load_run_config(path) == config
    stamp = os.stat(path).st_mtime_ns
    assert write_effective_config(config, tmp_path) == path and os.stat(path).st_mtime_ns == stamp
    other = RunConfig.from_dict({**_raw(), "seed": 1})
    assert write_effective_config(other, tmp_path) != path
    # key order kept: the order of the traces is the order of the decomposition's rows
    raw = _raw("default")
    assert list(json.loads(Path(write_effective_config(load_run_config(CONFIGS["default"]),
                                                       tmp_path)).read_text())["traces"]) == \
        list(raw["traces"])


def test_config_options_resolve_under_any_parser_class_and_flag_order(tmp_path):
    """argparse itself resolves them (a plain ArgumentParser, as a command that re-parses
    flags builds); a flag wins over --config before or after it; a repeated flag collects."""
    from clover.control.cli import register

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({**_raw(), "seed": 7}))
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    plain = parser.parse_args(["decomposition"])
    assert (plain.seed, plain.gpu, plain.n_gpus, plain.app) == (0, "a100-40gb", None, None)
    before = parser.parse_args(["decomposition", "--seed", "3", "--config", str(path)])
    after = parser.parse_args(["decomposition", "--config", str(path), "--seed", "3"])
    assert before.seed == after.seed == 3 and before.hours == after.hours == 4
    filed = parser.parse_args(["decomposition", "--config", str(path)])
    assert (filed.seed, filed.app, filed.trace) == (7, ["efficientnet"], ["CISO-March"])
    repeated = parser.parse_args(["decomposition", "--config", str(path), "--app", "yolo",
                                  "--app", "albert"])
    assert repeated.app == ["yolo", "albert"]
