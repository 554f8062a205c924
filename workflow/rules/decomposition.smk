# Where the savings come from (results/decomposition.csv, grid=decomposition, protocol=paper)
# and the held-out check against the artifact's measured arrival sweep
# (results/reference_check.csv, one row per artifact log entry). Modeled profiles.


def decomposition_options():
    """Apps, traces and hours of the main grid; the paper protocol's N, k and λ."""
    from clover.sim.protocol import protocol_settings

    paper = protocol_settings("paper")
    hours = config.get("hours")
    apps = " ".join(f"--app {a}" for a in config["apps"])
    traces = " ".join(f"--trace {shlex.quote(str(t))}" for t in config["traces"].values())
    n = config.get("n_gpus") or paper.default_gpus
    return (f"{apps} {traces} --n-gpus {n} --k {paper.base_gpu_factor} --gpu {config['gpu']} "
            f"--lam {fmt_num(paper.lam)} --seed {config['seed']} "
            + (f"--hours {hours} " if hours else "") + data_dir_flag())


rule decomposition:
    input:
        data="results/data/verified.txt",
    output:
        "results/decomposition.csv",
    log:
        "logs/decomposition.log",
    params:
        clover=CLOVER,
        common=decomposition_options(),
    conda:
        ENV
    shell:
        "{params.clover} decomposition {params.common} --out {output} 2> {log}"


rule reference_check:
    input:
        data="results/data/verified.txt",
    output:
        "results/reference_check.csv",
    log:
        "logs/reference_check.log",
    params:
        clover=CLOVER,
        data_dir=data_dir_flag(),
    conda:
        ENV
    shell:
        "{params.clover} reference-check {params.data_dir} --seed {config[seed]} "
        "--out {output} 2> {log}"
