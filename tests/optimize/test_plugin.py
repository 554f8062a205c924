"""A third-party scheme through the entry-point group ``clover.schemes`` (issue 22 item 3).

The example of docs/extending.md is built as a tiny installed distribution outside ``src/``:
the module and a ``*.dist-info`` (``METADATA``, ``entry_points.txt``), as ``pip install``
leaves them, in a directory on the path. importlib.metadata finds it there, so the scheme is
accepted by ``clover.api.run``, ``clover run --scheme``, the config schema and the pipeline.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
NAME = "best-uniform"


def example_module() -> str:
    """The scheme file of docs/extending.md (its first Python block)."""
    text = (REPO / "docs" / "extending.md").read_text()
    return re.search(r"```python\n(.*?)```", text, re.S).group(1)


def install(site: Path) -> Path:
    """The example distribution, installed into ``site`` (module + dist-info)."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "clover_best_uniform.py").write_text(example_module())
    info = site / "clover_best_uniform-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: clover-best-uniform\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text(
        f"[clover.schemes]\n{NAME} = clover_best_uniform:BestUniform\n")
    return site


def _clear_caches() -> None:
    from clover.config import config_schema
    from clover.names import scheme_names

    scheme_names.cache_clear()
    config_schema.cache_clear()


@pytest.fixture()
def plugin(tmp_path, monkeypatch):
    """The example scheme installed for this process (caches of the names cleared)."""
    site = install(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    _clear_caches()
    yield site
    monkeypatch.undo()
    sys.modules.pop("clover_best_uniform", None)
    _clear_caches()


def test_the_example_is_one_file_of_at_most_40_lines():
    assert len(example_module().splitlines()) <= 40


def test_an_installed_scheme_runs_through_the_api(plugin, shared_data):
    from clover.api import RunSpec, run
    from clover.config import RunConfig
    from clover.names import scheme_names
    from clover.optimize.registry import SCHEMES

    assert NAME in scheme_names() and NAME in SCHEMES
    for protocol in ("paper", "extended"):
        spec = RunSpec.from_config(None, protocol=protocol, app="efficientnet", scheme=NAME,
                                   trace="CISO-March", hours=3, data_dir=str(shared_data),
                                   scheme_params={NAME: {"min_accuracy_pct": 80}})
        log = run(spec).log
        assert list(log["scheme"]) == [NAME] * 3 and set(log["protocol"]) == {protocol}
        assert log["sla_met"].all() and (log["accuracy"] >= 80).all()
        assert (log["evaluations"] == 0).all()
    assert SCHEMES[NAME].origin == "clover_best_uniform:BestUniform"
    # the config's schemes lists accept it (the schema's enum is the registry's)
    raw = {"apps": ["efficientnet"], "schemes": ["base", NAME], "traces": {"t": "CISO-March"},
           "gpu_count": {"apps": ["efficientnet"], "schemes": [NAME]},
           "scheme_params": {NAME: {"min_accuracy_pct": 80}}}
    assert RunConfig.from_dict(raw).schemes == ("base", NAME)


def test_a_bad_parameter_of_a_plugin_is_one_line(plugin):
    from clover.api import RunSpec, decide
    from clover.errors import CloverError

    spec = RunSpec.from_config(None, app="efficientnet", scheme=NAME,
                               scheme_params={NAME: {"nope": 1}})
    with pytest.raises(CloverError, match="scheme_params best-uniform: unknown parameter"):
        decide(spec, 200.0)


def test_without_the_distribution_the_name_is_unknown():
    from clover.config import RunConfig
    from clover.errors import CloverError

    with pytest.raises(CloverError, match="best-uniform"):
        RunConfig.from_dict({"apps": ["efficientnet"], "schemes": [NAME],
                             "traces": {"t": "CISO-March"}, "gpu_count": {"apps": ["yolo"]}})


def _env(site: Path) -> dict:
    path = os.pathsep.join([str(site), str(REPO / "src"), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "MPLBACKEND": "Agg"}


@pytest.mark.slow
def test_an_installed_scheme_runs_through_the_cli_and_the_pipeline(tmp_path, shared_data):
    """``clover run --scheme best-uniform`` and the pipeline on .test/config with
    ``--config schemes=[...]`` (the main grid under both protocols)."""
    site = install(tmp_path / "site")
    env = _env(site)
    out = tmp_path / "run.csv"
    cli = [sys.executable, "-m", "clover", "run", "--app", "efficientnet", "--scheme", NAME,
           "--trace", "CISO-March", "--hours", "2", "--protocol", "paper", "--data-dir",
           str(shared_data), "--out", str(out)]
    done = subprocess.run(cli, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert list(pd.read_csv(out)["scheme"]) == [NAME] * 2
    work = tmp_path / "work"
    shutil.copytree(REPO / ".test" / "config", work / "config")
    targets = [f"results/runs/{p}/main/efficientnet/CISO-March/{NAME}_lam0.1_floornone.csv"
               for p in ("paper", "extended")]
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
           str(work), "--cores", "2", "--config", f"schemes=[base,{NAME}]", "--", *targets]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for target in targets:
        log = pd.read_csv(work / target)
        assert set(log["scheme"]) == {NAME} and len(log) == 4
