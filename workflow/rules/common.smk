# Shared: the clover command, wildcard constraints, path templates, input functions and the
# targets, all derived from RUN (clover.config.RunConfig, built in workflow/Snakefile).
import shlex
import sys
from pathlib import Path

# The checkout: the main Snakefile's directory (root Snakefile) or its parent (workflow/Snakefile).
REPO = next(
    (d for d in (Path(workflow.basedir), Path(workflow.basedir).parent) if (d / "src" / "clover").is_dir()),
    Path(workflow.basedir),
)
sys.path.insert(0, str(REPO / "src"))  # clover itself, for the config and the run grid


def clover_command():
    """How rules call `clover`: this checkout's src/ first on PYTHONPATH, run by the
    interpreter running Snakemake, or by the rule's conda env python under `--sdm conda`."""
    methods = {str(m).lower() for m in workflow.deployment_settings.deployment_method}
    python = "python" if any("conda" in m for m in methods) else shlex.quote(sys.executable)
    src = shlex.quote(str(REPO / "src"))
    # CLOVER_FCFS_CACHE: FCFS windows shared by every job of one app and seed (they do not
    # depend on ci, λ or the trace; clover.sim.window_cache)
    return (f"PYTHONPATH={src}${{PYTHONPATH:+:$PYTHONPATH}} MPLBACKEND=Agg HF_HUB_OFFLINE=1 "
            f"CLOVER_FCFS_CACHE=results/cache/fcfs {python} -m clover")


CLOVER = clover_command()
ENV = "../envs/clover.yaml"

# one list, shared with `clover figures` (clover.analysis.figure_list)
from clover.analysis.figure_list import FIGURE_NAMES as FIGURES
# command_settings(RUN, "run-grid", given=...): a rule's rerun trigger, the config values
# its command reads (clover.cli)
from clover.cli import command_settings
from clover.config import write_effective_config
from clover.control.grid import default_n_gpus, grid_schemes, grid_table, profile_batch_sizes
from clover.pipeline_check import check_run_config, check_trace_specs, check_yaml_files


wildcard_constraints:
    app="[a-z]+",
    scheme="[a-z0-9-]+",
    protocol="paper|extended",
    trace="[A-Za-z0-9.-]+",
    lam="[0-9.]+",
    floor="none|[0-9.]+",
    gpu="[a-z0-9-]+",
    figure="fig_[a-z]_[a-z_]+",


def config_file(wildcards, output):
    """The effective config (CONFIG_FILE, workflow/Snakefile), each `clover` call's --config,
    as a rule param (a global in a shell command is a `snakemake --lint` finding). It takes
    `output` so that Snakemake counts it as derived and leaves it out of the params rerun
    trigger: the file is named by the hash of the whole config, so as a plain param it would
    rerun every job on any key change, while a rule must rerun only when a value its command
    reads changes (its `settings` param; tests/workflow/test_pipeline.py checks both)."""
    return CONFIG_FILE


def trace_files(wildcards):
    """The file a config trace names when its spec is a file (your own data, docs/traces.md),
    as an input of the jobs that read it, so that editing the file reruns them; [] else."""
    from clover.carbon import parse_trace_spec

    spec = parse_trace_spec(RUN.trace_spec(wildcards.trace))
    return [spec.path] if spec.kind == "file" else []


def all_runs():
    """Every controller log of the pipeline (clover.control.grid.grid_table)."""
    return list(GRID["path"])


def grid_rules():
    """(protocol, grid, schemes) of each run-grid rule: one rule per protocol x grid."""
    return [(p, g, s) for (p, g), s in grid_schemes(GRID).items()]


def profile_path(app):
    """The profile table a run of ``app`` reads (the configured GPU and profile backend)."""
    return f"results/profiles/{app}_{RUN.gpu}_{RUN.profiles.backend}.csv"


def all_profile_tables():
    return expand(
        "results/profiles/{app}_{gpu}_{backend}.csv",
        app=("yolo", "albert", "efficientnet"),
        gpu=RUN.profile_gpus(),
        backend=RUN.profiles.backend,
    )


def all_figures():
    return expand("paper_figures/{figure}.{ext}", figure=FIGURES, ext=("pdf", "png"))


def mig_plans():
    return [f"results/mig/plan_{RUN.gpu}.json"]


from functools import cache

YEAR_FIGURES = ["fig_j_year_tonnes", "fig_k_adapt_vs_swing", "fig_l_month_zone"]


@cache
def year_groups():
    """The year study's jobs: group -> zones, config year.zones_per_job zones each, in the
    order of year.datasets (clover.control.year.zone_groups)."""
    from clover.control.year import zone_groups

    return {g: [z.zone for z in zones] for g, zones in zone_groups(RUN).items()}


def year_parts():
    """Month rows of every year job, app-major then zone order (the summary's row order)."""
    return expand("results/year/parts/{app}/{group}.csv", app=RUN.year.apps,
                  group=list(year_groups()))


def year_outputs(in_all=False):
    """The year study's outputs: of target `year`; of `all` (``in_all``) only under config
    year.in_all."""
    if in_all and not RUN.year.in_all:
        return []
    return ["results/year/summary.csv", "results/year/claims.md",
            *expand("paper_figures/{yfig}.{ext}", yfig=YEAR_FIGURES, ext=("pdf", "png"))]


def year_claims():
    """The year's claims the aggregate puts in the claims table (config year.in_all), or
    none."""
    return ["results/year/claims.csv"] if RUN.year.in_all else []
