# Real data: verify the shared data (sha256 against MANIFEST.tsv), or download it.


rule data:
    output:
        "results/data/verified.tsv",
    log:
        "logs/data.log",
    params:
        clover=CLOVER,
        data_dir=data_dir_flag(),
    conda:
        ENV
    shell:
        "{params.clover} data verify {params.data_dir} --download-missing --out {output} 2> {log}"
