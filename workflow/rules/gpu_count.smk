# Fewest GPUs each scheme needs to meet the service target (rate, SLA, accuracy).


rule gpu_count:
    input:
        profiles=lambda wc: profile_path(wc.app),
    output:
        "results/gpu_count/{app}.csv",
    log:
        "logs/gpu_count/{app}.log",
    params:
        config=config_file,  # the effective config file (common.smk)
        clover=CLOVER,
        settings=command_settings(RUN, "gpu-count"),  # rerun trigger (config values read)
    threads: 1
    conda:
        ENV
    shell:
        "{params.clover} gpu-count --config {params.config} --app {wildcards.app} "
        "--profiles {input.profiles} --out {output} 2> {log}"
