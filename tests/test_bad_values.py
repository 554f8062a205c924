"""Issue 13 item 1: every bad value is one ``clover: error:`` line naming the option, exit 2.

Bounds are checked where the value enters (argparse types in clover.cliutil, Problem.build,
the trace-spec parser); docs/reliability.md lists the classes.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clover.cliutil import CI_MAX_G_PER_KWH, check_number, check_params
from clover.errors import CloverError

OPT = ("optimize", "--app", "efficientnet", "--gpus", "2")
RUN = ("run", "--app", "efficientnet", "--scheme", "base", "--trace", "CISO-March",
       "--n-gpus", "2")

#: (argv, text the single error line must contain)
CASES = {
    "ci-nan": ((*OPT, "--ci", "nan"), "--ci"),
    "ci-inf": ((*OPT, "--ci", "inf"), "--ci"),
    "ci-negative": ((*OPT, "--ci", "-1"), "--ci"),
    "ci-implausible": ((*OPT, "--ci", "1e308"), "--ci must be within [0, 3000]"),
    "pue-zero": ((*OPT, "--ci", "100", "--pue", "0"), "--pue"),
    "pue-negative": ((*OPT, "--ci", "100", "--pue", "-1"), "--pue"),
    "pue-nonsense": ((*OPT, "--ci", "100", "--pue", "abc"), "--pue must be a number"),
    "ci-ref-zero": ((*OPT, "--ci", "100", "--ci-ref", "0"), "--ci-ref"),
    "param-type": ((*OPT, "--ci", "100", "--param", "max_evaluations=abc"),
                   "--param max_evaluations must be an integer"),
    "param-sign": ((*OPT, "--ci", "100", "--param", "max_evaluations=-5"),
                   "--param max_evaluations"),
    "param-float-type": ((*OPT, "--ci", "100", "--param", "t0=hot"), "--param t0"),
    "param-unknown": ((*OPT, "--ci", "100", "--param", "nope=1"), "unknown parameter(s) nope"),
    "seed-negative": ((*OPT, "--ci", "100", "--seed", "-1"), "--seed"),
    "gpus-zero": (("optimize", "--app", "efficientnet", "--gpus", "0", "--ci", "1"), "--gpus"),
    "problem-sla": ((*RUN, "--problem-json", json.dumps({"sla_ms": -5})),
                    "--problem-json: sla_ms"),
    "problem-load": ((*RUN, "--problem-json", json.dumps({"load_fraction": "abc"})),
                     "--problem-json: load_fraction must be a number"),
    "problem-unknown": ((*RUN, "--problem-json", json.dumps({"bogus": 1})),
                        "--problem-json: unknown key(s) bogus"),
    "problem-pue": ((*RUN, "--problem-json", json.dumps({"pue": 0})), "--problem-json: pue"),
    "problem-list": ((*RUN, "--problem-json", "[1]"), "--problem-json: expected a JSON object"),
    "scheme-params": ((*RUN, "--scheme-params-json",
                       json.dumps({"clover": {"max_evaluations": -5}})),
                      "--scheme-params-json clover max_evaluations"),
    "run-seed": ((*RUN, "--seed", "-1"), "--seed"),
    "run-hours-too-long": ((*RUN, "--hours", "50"), "--hours 50 is longer than trace"),
    "year-zero": (("run", "--app", "efficientnet", "--scheme", "base", "--trace", "DE:winter:0"),
                  "year 0 is outside 1990-2100"),
    "year-huge": (("run", "--app", "efficientnet", "--scheme", "base", "--trace",
                   "DE:winter:99999999999"), "year 99999999999 is outside"),
    "window-year": (("carbon", "show", "DE:0001-01-01:5"), "year 1 is outside"),
    "hours-overflow": (("carbon", "show", "DE:2023-01-01:99999999999999"), "hours"),
    "carbon-pue": (("carbon", "show", "CISO-March", "--pue", "nan"), "--pue"),
    "sample-bound": (("workload", "sample", "--rate", "1e9", "--duration", "1e9"),
                     "expected requests exceeds the bound"),
    "sample-rate-nan": (("workload", "sample", "--rate", "nan"), "--rate"),
    "sample-seed": (("workload", "sample", "--seed", "-1"), "--seed"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_value_is_one_error_line_naming_the_option(run_cli, shared_data, case):
    argv, needle = CASES[case]
    code, _, err = run_cli(*argv)
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("clover: error: "), err
    assert needle in lines[0]


def test_configuration_file_that_is_a_list(run_cli, tmp_path):
    path = tmp_path / "conf.json"
    path.write_text("[1, 2]")
    code, _, err = run_cli("mig", "plan", "--configuration", str(path), "--from-scratch")
    assert code == 2
    assert err == f"clover: error: configuration file {path}: expected a JSON object, got list\n"


def test_optimize_profiles_with_negative_power_uses_runs_table_check(run_cli, tmp_path):
    from clover.profiles import load_profiles

    table = load_profiles("efficientnet", "a100-40gb").copy()
    fits = table.index[table["fits"]][0]
    table.loc[fits, "power_w_busy"] = -5.0
    path = tmp_path / "neg.csv"
    table.to_csv(path, index=False)
    for argv in (("optimize", "--app", "efficientnet", "--ci", "100", "--profiles", str(path)),
                 ("run", "--app", "efficientnet", "--scheme", "base", "--trace", "CISO-March",
                  "--profiles", str(path))):
        code, _, err = run_cli(*argv)
        assert code == 2
        assert err == (f"clover: error: profile table {path}: rows that fit need positive, "
                       "finite timings and power\n")


def test_carbon_file_beyond_the_plausibility_bound(run_cli, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("timestamp_utc,zone,carbon_intensity_g_per_kwh\n"
                    "2023-01-01T00:00:00Z,XX,100\n2023-01-01T01:00:00Z,XX,1e308\n")
    code, _, err = run_cli("carbon", "show", str(path))
    assert code == 2 and "line 3" in err and "above the plausibility bound" in err
    path.write_text(path.read_text().replace("1e308", str(CI_MAX_G_PER_KWH)))
    code, out, err = run_cli("carbon", "show", str(path), "--csv")
    assert code == 0, err


def test_check_number_and_params_table():
    assert check_number("3", "x", lo=1, integer=True) == 3
    assert check_number(2.0, "x", integer=True) == 2
    for bad in ("nan", "inf", True, None, "1.5"):
        with pytest.raises(CloverError, match="^x must be"):
            check_number(bad, "x", integer=bad == "1.5")
    defaults = {"n": 10, "t": 1.0, "seed": None, "lo": None}
    assert check_params({"n": 3, "t": 2, "seed": 7, "lo": None}, defaults, "p",
                        positive={"n": True}) == {"n": 3, "t": 2.0, "seed": 7, "lo": None}
    for params, msg in (({"n": 0}, "p n must be within"), ({"t": "2"}, "p t must be a number"),
                        ({"seed": -1}, "p seed"), ({"n": 2.5}, "p n must be an integer")):
        with pytest.raises(CloverError, match=msg):
            check_params(params, defaults, "p", positive={"n": True})


def test_problem_build_bounds(profiles):
    from clover.sim import Problem

    table = profiles
    for kw, msg in (({"sla_ms": -5}, "sla_ms"), ({"pue": 0}, "pue"), ({"ci_ref": 0}, "ci_ref"),
                    ({"seed": -1}, "seed"), ({"load_fraction": "abc"}, "load_fraction"),
                    ({"lam": float("nan")}, "lam")):
        with pytest.raises(CloverError, match=msg):
            Problem.build("efficientnet", "a100-40gb", 2, table, **kw)
    assert np.isfinite(Problem.build("efficientnet", "a100-40gb", 2, table).sla_ms)
    assert isinstance(table, pd.DataFrame)


@pytest.mark.parametrize("argv, names", [
    (["run", "--app", "nope", "--trace", "CISO-March"], "--app"),
    (["optimize", "--app", "albert"], "--ci"),
    (["frobnicate"], "COMMAND"),
    (["optimize", "--app", "albert", "--ci", "250", "--no-such-flag"], "--no-such-flag"),
])
def test_usage_errors_are_one_line(argv, names, capsys):
    """argparse's own errors (invalid choice, missing or unknown option) follow the same
    contract as every other bad input: one line naming the option, exit 2."""
    from clover.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.count("\n") == 1 and err.startswith("clover: error: ") and names in err


@pytest.mark.parametrize("column, value, needle", [
    ("variant", "efficientnet-b99", "unknown variant 'efficientnet-b99'"),
    ("slice_profile", "5g.20gb", "unknown MIG slice '5g.20gb'"),
])
def test_profile_rows_for_unknown_variant_or_slice_are_refused(run_cli, tmp_path, column, value,
                                                               needle):
    """Issue 21 item 1: such rows used to be dropped without a word."""
    from clover.profiles import load_profiles

    table = load_profiles("efficientnet", "a100-40gb")
    extra = table.iloc[[0]].copy()
    extra[column] = value
    path = tmp_path / "extra.csv"
    pd.concat([table, extra]).to_csv(path, index=False)
    for argv in (("optimize", "--app", "efficientnet", "--ci", "100", "--profiles", str(path)),
                 ("run", "--app", "efficientnet", "--scheme", "base", "--trace", "CISO-March",
                  "--profiles", str(path))):
        code, _, err = run_cli(*argv)
        assert code == 2, err
        assert err.count("\n") == 1 and err.startswith("clover: error: ") and needle in err


def test_unknown_argument_reads_unrecognized_arguments(capsys):
    """Issue 21 item 3: not ``clover: error: clover: unrecognized arguments``."""
    from clover.cli import main

    with pytest.raises(SystemExit):
        main(["optimize", "--app", "albert", "--ci", "250", "--no-such-flag"])
    err = capsys.readouterr().err
    assert err.startswith("clover: error: unrecognized arguments: --no-such-flag"), err
