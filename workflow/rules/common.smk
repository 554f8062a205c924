# Shared helpers: the clover command, the run grid derived from the config, wildcard rules.
import json
import shlex
import sys
from pathlib import Path

# The checkout: the main Snakefile's directory (root Snakefile) or its parent (workflow/Snakefile).
REPO = next(
    (d for d in (Path(workflow.basedir), Path(workflow.basedir).parent) if (d / "src" / "clover").is_dir()),
    Path(workflow.basedir),
)
sys.path.insert(0, str(REPO / "src"))  # the catalogs (clover.mig.geometry) for wildcards


def clover_command():
    """How rules call `clover`: this checkout's src/ first on PYTHONPATH, run by the
    interpreter running Snakemake, or by the rule's conda env python under `--sdm conda`."""
    methods = {str(m).lower() for m in workflow.deployment_settings.deployment_method}
    python = "python" if any("conda" in m for m in methods) else shlex.quote(sys.executable)
    src = shlex.quote(str(REPO / "src"))
    return f"PYTHONPATH={src}${{PYTHONPATH:+:$PYTHONPATH}} MPLBACKEND=Agg HF_HUB_OFFLINE=1 {python} -m clover"


CLOVER = clover_command()
ENV = "../envs/clover.yaml"
# one list, shared with `clover figures` (clover.analysis.figure_list)
from clover.analysis.figure_list import FIGURE_NAMES as FIGURES


wildcard_constraints:
    app="[a-z]+",
    scheme="[a-z0-9-]+",
    protocol="paper|extended",
    trace="[A-Za-z0-9.-]+",
    lam="[0-9.]+",
    floor="none|[0-9.]+",
    gpu="[a-z0-9-]+",
    figure="fig_[a-z]_[a-z_]+",


def data_dir_flag():
    """`--data-dir DIR` for the clover command when the config names one."""
    d = config.get("data_dir")
    return f"--data-dir {shlex.quote(str(d))}" if d else ""


def trace_specs():
    """Every trace the pipeline runs on: name -> clover.carbon spec.

    The three original Clover traces plus one window per zone x season of the region set.
    """
    specs = dict(config["traces"])
    reg = config.get("regions") or {}
    for zone in reg.get("zones", []):
        for season in reg.get("seasons", []):
            specs[f"{zone}.{season}"] = f"{zone}:{season}:{reg['year']}"
    return specs


def fmt_num(x):
    """A number as it appears in file names (0.5, 2, 0.25)."""
    from clover.control.grid import fmt_num as f

    return f(x)


def grid_table():
    """Every controller log of the pipeline, one row each (clover.control.grid.grid_table)."""
    from clover.control.grid import grid_table as table

    return table(config)


GRID = grid_table()


def all_runs():
    return list(GRID["path"])


def grid_rules():
    """(protocol, grid, schemes) of each run-grid rule: one rule per protocol x grid."""
    from clover.control.grid import grid_schemes

    return [(p, g, s) for (p, g), s in grid_schemes(GRID).items()]


def all_apps():
    apps = list(config["apps"])
    for key in ("lam_sweep", "regions", "gpu_count"):
        apps += (config.get(key) or {}).get("apps", [])
    return list(dict.fromkeys(apps))


def profile_cfg(key, default):
    return config.get("profiles", {}).get(key, default)


def profile_path(app):
    """The profile table a run of ``app`` reads (the configured GPU and profile backend)."""
    return f"results/profiles/{app}_{config['gpu']}_{profile_cfg('backend', 'model')}.csv"


def profile_gpus():
    """The configured GPU plus profiles.extra_gpus, sorted, unique."""
    return sorted({config["gpu"], *profile_cfg("extra_gpus", ["h100-80gb"])})


def all_profile_tables():
    return expand(
        "results/profiles/{app}_{gpu}_{backend}.csv",
        app=("yolo", "albert", "efficientnet"),
        gpu=profile_gpus(),
        backend=profile_cfg("backend", "model"),
    )


def profile_batch_sizes(app):
    """Batch sizes a profile table holds: 1 and each protocol's request batch of the app."""
    from clover.sim.protocol import protocol_settings

    batch = config.get("request_batch")
    # every protocol the run grid uses, not only the config's default one
    names = {config.get("protocol", "extended"), *GRID["protocol"]}
    return sorted({1, *(protocol_settings(n, request_batch=batch).batch(app) for n in names)})


def profile_extra_args(wildcards):
    """Batch sizes (every backend) and measurement settings for the measured backends."""
    sizes = profile_batch_sizes(wildcards.app)
    batches = "" if sizes == [1] else f"--batch-size {' '.join(str(b) for b in sizes)}"
    if wildcards.backend == "model":
        return batches
    return (
        f"--iters {profile_cfg('iters', 30)} --warmup {profile_cfg('warmup', 5)} "
        f"--input-scale {profile_cfg('input_scale', 1.0)} {batches}"
    )


def all_figures():
    return expand("paper_figures/{figure}.{ext}", figure=FIGURES, ext=("pdf", "png"))


def mig_plans():
    return [f"results/mig/plan_{config['gpu']}.json"]


def n_gpus():
    """N, the schemes' GPUs: config n_gpus, else the default protocol's (paper 2, extended 10)."""
    from clover.sim.protocol import protocol_settings

    n = config.get("n_gpus")
    return int(n) if n is not None else protocol_settings(config.get("protocol", "paper")).default_gpus


def main_lam():
    """λ of the main grid: config lam, else the default protocol's (paper 0.1)."""
    from clover.control.grid import grid_lam

    return grid_lam(config, config.get("protocol", "paper"))


def initial_layout_flags(gpu):
    """`--layout` once per GPU: the initial deployment (BASE) uses every GPU whole."""
    from clover.mig.geometry import get_gpu

    return " ".join(f"--layout {get_gpu(gpu).full_profile.name}" for _ in range(n_gpus()))


def mig_apply_command(wildcards):
    """Apply the plan through NVML only when the config explicitly allows it."""
    if config["backend"] == "live" and config["allow_mig_changes"]:
        return (f"&& {CLOVER} mig apply --gpu {wildcards.gpu} "
                f"{initial_layout_flags(wildcards.gpu)} --apply >> logs/mig_setup_{wildcards.gpu}.log 2>&1")
    return ""


def _json(obj):
    return shlex.quote(json.dumps(obj, sort_keys=True, separators=(",", ":")))


def protocol_flags():
    """`--protocol` and the knobs the config overrides (null keys = the preset's)."""
    flags = [f"--protocol {config.get('protocol', 'extended')}"]
    for key in ("base_gpu_factor", "space", "dispatch", "request_batch", "base_utilisation"):
        value = config.get(key)
        if value is not None:
            value = _json(value) if isinstance(value, dict) else value
            flags.append(f"--{key.replace('_', '-')} {value}")
    return " ".join(flags)


def run_options():
    """Flags shared by every `clover run` (the problem, the controller, the backend)."""
    c = config["control"]
    hours = config.get("hours")
    return " ".join(
        [
            # n_gpus null: each run's protocol sets N (paper 2, extended 10)
            f"--gpu {config['gpu']} --backend {config['backend']}",
            f"--n-gpus {config['n_gpus']}" if config.get("n_gpus") is not None else "",
            f"--problem-json {_json(config.get('problem') or {})}",
            f"--scheme-params-json {_json(config.get('scheme_params') or {})}",
            f"--eval-window-s {c['eval_window_s']} --mig-repartition-s {c['mig_repartition_s']}",
            f"--model-load-base-s {c['model_load_base_s']}",
            f"--model-load-mb-per-s {c['model_load_mb_per_s']} --initial {c['initial']}",
            f"--hours {hours}" if hours else "",
            f"--seed {config['seed']}",
            protocol_flags(),
        ]
    )


def gpu_count_options():
    g = config["gpu_count"]
    return " ".join(
        [
            f"--gpu {config['gpu']} --schemes {' '.join(g['schemes'])}",
            f"--base-gpus {g['base_gpus']}",
            f"--max-accuracy-loss {g['max_accuracy_loss_pct']} --max-gpus {g['max_gpus']}",
            f"--ci {g['ci_g_per_kwh']} --protocol {g.get('protocol', 'paper')}",
            f"--lam {fmt_num(config['lam'])}" if config.get("lam") is not None else "",
            f"--problem-json {_json(config.get('problem') or {})}",
            f"--scheme-params-json {_json(config.get('scheme_params') or {})}",
            f"--seed {config['seed']}",
        ]
    )


def aggregate_options():
    e = config["embodied"]
    return " ".join(
        [
            f"--lam {main_lam()} --backend {config['backend']}",
            f"--embodied-kg-per-gpu {e['kg_co2e_per_gpu']}",
            f"--embodied-source {shlex.quote(e['source'])}",
        ]
    )


def figure_options():
    e = config["embodied"]
    return " ".join(
        [
            f"--lam {main_lam()}",
            f"--embodied-kg-per-gpu {e['kg_co2e_per_gpu']}",
            f"--embodied-source {shlex.quote(e['source'])}",
        ]
    )


def trace_spec(wildcards):
    """The clover.carbon spec of a trace named in the config (originals or regions)."""
    specs = trace_specs()
    if wildcards.trace not in specs:
        raise ValueError(f"unknown trace {wildcards.trace!r}: not in config traces or regions")
    return specs[wildcards.trace]
