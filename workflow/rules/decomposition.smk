# Where the savings come from (results/decomposition.csv, grid=decomposition, protocol=paper:
# the config's apps, traces and N, the paper protocol's k and λ) and the held-out check against
# the artifact's measured arrival sweep (results/reference_check.csv, one row per artifact log
# entry). Modeled profiles.


rule decomposition:
    input:
        data="results/data/verified.txt",
    output:
        "results/decomposition.csv",
    log:
        "logs/decomposition.log",
    params:
        config=config_file,  # the effective config file (common.smk)
        clover=CLOVER,
        settings=command_settings(RUN, "decomposition"),  # rerun trigger (config values read)
    conda:
        ENV
    shell:
        "{params.clover} decomposition --config {params.config} --out {output} 2> {log}"


rule reference_check:
    input:
        data="results/data/verified.txt",
    output:
        "results/reference_check.csv",
    log:
        "logs/reference_check.log",
    params:
        config=config_file,  # the effective config file (common.smk)
        clover=CLOVER,
        settings=command_settings(RUN, "reference-check"),  # rerun trigger (config values read)
    conda:
        ENV
    shell:
        "{params.clover} reference-check --config {params.config} --out {output} 2> {log}"
