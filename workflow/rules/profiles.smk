# Per-slice profile tables (clover.profiles; docs/profiles.md). The modeled backend needs no
# hardware and is the default; set profiles.backend to cpu or cuda to measure instead.
PROFILE_APPS = ["yolo", "albert", "efficientnet"]


def profile_cfg(key, default):
    return config.get("profiles", {}).get(key, default)


def profile_gpus():
    """The configured GPU plus profiles.extra_gpus (H100 by default), sorted, unique."""
    return sorted({config["gpu"], *profile_cfg("extra_gpus", ["h100-80gb"])})


def profile_extra_args(wildcards):
    if wildcards.backend == "model":
        return ""
    return (f"--iters {profile_cfg('iters', 30)} --warmup {profile_cfg('warmup', 5)} "
            f"--input-scale {profile_cfg('input_scale', 1.0)}")


rule profile_table:
    input:
        "data/profile_model.yaml",
    output:
        "results/profiles/{app}_{gpu}_{backend}.csv",
    log:
        "logs/profile_{app}_{gpu}_{backend}.log",
    wildcard_constraints:
        app="yolo|albert|efficientnet",
        backend="model|cpu|cuda",
    params:
        extra=profile_extra_args,
    shell:
        "{CLOVER} profile --app {wildcards.app} --gpu {wildcards.gpu} "
        "--backend {wildcards.backend} {params.extra} --out {output} --quiet > {log} 2>&1"


rule profiles:
    input:
        expand(
            "results/profiles/{app}_{gpu}_{backend}.csv",
            app=PROFILE_APPS,
            gpu=profile_gpus(),
            backend=profile_cfg("backend", "model"),
        ),
