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
        layouts=lambda wc: initial_layout_flags(wc.gpu),
        apply=mig_apply_command,
    conda:
        ENV
    shell:
        "{params.clover} mig layouts --gpu {wildcards.gpu} --json > {output.layouts}.tmp 2> {log} "
        "&& {params.clover} mig plan --gpu {wildcards.gpu} {params.layouts} --from-scratch "
        "--out {output.plan} > {output.text}.tmp 2>> {log} {params.apply} "
        "&& mv {output.layouts}.tmp {output.layouts} && mv {output.text}.tmp {output.text}"
