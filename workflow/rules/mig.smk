# MIG setup: the planned layouts and the exact NVML / nvidia-smi operations, written to
# results/mig/. Applied to the GPUs only with `backend: live` and `allow_mig_changes: true`.


rule mig_setup:
    output:
        plan="results/mig/plan_{gpu}.json",
        script="results/mig/plan_{gpu}.sh",
    log:
        "logs/mig_setup_{gpu}.log",
    params:
        clover=CLOVER,
        n_gpus=config["n_gpus"],
        apps=" ".join(all_apps()),
        apply=(
            "--apply"
            if config["backend"] == "live" and config["allow_mig_changes"]
            else ""
        ),
    conda:
        ENV
    shell:
        "{params.clover} mig plan --gpu {wildcards.gpu} --n-gpus {params.n_gpus} "
        "--apps {params.apps} --out {output.plan} --script {output.script} {params.apply} "
        "2> {log}"
