# Real data: use the shared data directory when there is one (verified by sha256 against its
# MANIFEST.tsv, every listed file required), else download the carbon traces into
# data/external and verify them (carbon/ required, the rest may be absent).


from clover.datasets import data_files


rule data:
    # the manifests and every listed data file present: a changed file (mtime) reruns the check
    input:
        files=data_files(RUN.data_dir),
    output:
        "results/data/verified.txt",
    log:
        "logs/data.log",
    params:
        config=config_file,  # the effective config file (common.smk)
        clover=CLOVER,
        settings=command_settings(RUN, "data", "verify"),  # rerun trigger (config values read)
    conda:
        ENV
    shell:
        "d=$({params.clover} data where --config {params.config} 2>> {log} | head -n 1); "
        'case "$d" in */data/external) '
        "{params.clover} data download --only carbon/ >> {log} 2>&1 ;; esac; "
        "{params.clover} data verify --only carbon/ --config {params.config} > {output}.tmp 2>> {log} "
        "&& mv {output}.tmp {output}"
