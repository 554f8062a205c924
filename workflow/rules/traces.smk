# Traces: every carbon trace the runs use, as a tidy CSV (provenance for the report), and an
# explicit download of the public originals into data/external (`snakemake download_data`).


rule download_data:
    output:
        "results/data/download_report.tsv",
    log:
        "logs/download_data.log",
    params:
        clover=CLOVER,
    conda:
        ENV
    shell:
        "{params.clover} data download --dest data/external --report {output} > {log} 2>&1"


rule carbon_trace:
    input:
        data="results/data/verified.txt",
        trace_file=trace_files,
    output:
        "results/carbon/{trace}.csv",
    log:
        "logs/carbon_trace_{trace}.log",
    params:
        config=config_file,  # the effective config file (common.smk)
        clover=CLOVER,
        spec=lambda wc: RUN.trace_spec(wc.trace),
        settings=command_settings(RUN, "carbon", "show"),  # rerun trigger (config values read)
    conda:
        ENV
    shell:
        "{params.clover} carbon show {params.spec:q} --csv --config {params.config} "
        "> {output}.tmp 2> {log} && mv {output}.tmp {output}"
