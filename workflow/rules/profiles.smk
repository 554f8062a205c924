# Per-slice profile tables (clover.profiles; docs/profiles.md). The modeled backend needs no
# hardware and is the default; set profiles.backend to cpu or cuda to measure instead.


rule profile:
    input:
        # the modeled backend's constants (repository data/, found from any --directory)
        model=str(REPO / "data" / "profile_model.yaml"),
    output:
        "results/profiles/{app}_{gpu}_{backend}.csv",
    log:
        "logs/profile_{app}_{gpu}_{backend}.log",
    wildcard_constraints:
        backend="model|cpu|cuda",
    params:
        config=config_file,  # the effective config file (common.smk)
        clover=CLOVER,
        # 1 and each protocol's request batch of the app (every protocol the grid runs)
        batches=lambda wc: " ".join(map(str, profile_batch_sizes(config, wc.app))),
        # rerun trigger: the measured backends read profiles.iters, warmup, input_scale
        settings=lambda wc: "" if wc.backend == "model" else
            command_settings(RUN, "profile", given=("--gpu", "--backend")),
    conda:
        ENV
    shell:
        "{params.clover} profile --config {params.config} --app {wildcards.app} "
        "--gpu {wildcards.gpu} --backend {wildcards.backend} --batch-size {params.batches} "
        "--out {output} --quiet > {log} 2>&1"
