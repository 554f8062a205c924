# MIG setup: the valid layouts and the planned initial layout (BASE: every GPU whole) with the
# exact NVML / nvidia-smi operations, written to results/mig/. Applied to the GPUs only with
# `backend: live` and `allow_mig_changes: true` (clover.mig manager; never toggles MIG mode).


rule mig_setup:
    output:
        layouts="results/mig/layouts_{gpu}.json",
        plan="results/mig/plan_{gpu}.json",
        text="results/mig/plan_{gpu}.txt",
    log:
        "logs/mig_setup_{gpu}.log",
    params:
        clover=CLOVER,
        whole=default_n_gpus(config),  # the node's N GPUs, each whole
        apply="yes" if RUN.backend == "live" and RUN.allow_mig_changes else "no",
    conda:
        ENV
    shell:
        "{params.clover} mig layouts --gpu {wildcards.gpu} --json > {output.layouts}.tmp 2> {log} "
        "&& {params.clover} mig plan --gpu {wildcards.gpu} --whole {params.whole} --from-scratch "
        "--out {output.plan} > {output.text}.tmp 2>> {log} "
        "&& if [ {params.apply} = yes ]; then {params.clover} mig apply --gpu {wildcards.gpu} "
        "--whole {params.whole} --apply >> {log} 2>&1; fi "
        "&& mv {output.layouts}.tmp {output.layouts} && mv {output.text}.tmp {output.text}"
