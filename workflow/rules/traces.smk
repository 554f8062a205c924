# Traces stage: the carbon traces the experiments run on, and the data download.
# (include from workflow/Snakefile; `snakemake download_data` fills data/external when no
# curated data directory is available.)

CARBON_PRESETS = ["CISO-March", "CISO-Sep", "ESO-March"]


rule download_data:
    output:
        "results/data/download_report.tsv",
    log:
        "logs/download_data.log",
    shell:
        "{CLOVER} data download --dest data/external --report {output} > {log} 2>&1"


rule verify_data:
    output:
        "results/data/verify.txt",
    log:
        "logs/verify_data.log",
    params:
        data_dir=data_dir_flag(),
    shell:
        "{CLOVER} data verify {params.data_dir} > {output}.tmp 2> {log} && mv {output}.tmp {output}"


rule carbon_trace:
    output:
        "results/carbon/{trace}.csv",
    log:
        "logs/carbon_trace_{trace}.log",
    params:
        data_dir=data_dir_flag(),
    shell:
        "{CLOVER} carbon show {wildcards.trace} --csv {params.data_dir} > {output}.tmp 2> {log} "
        "&& mv {output}.tmp {output}"


rule traces:
    input:
        expand("results/carbon/{trace}.csv", trace=CARBON_PRESETS),
