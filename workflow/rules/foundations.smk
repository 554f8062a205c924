# Catalogs: the model variants (the MIG layouts come with mig_setup).


rule model_catalog:
    output:
        "results/models/catalog.json",
    log:
        "logs/model_catalog.log",
    params:
        clover=CLOVER,
    conda:
        ENV
    shell:
        "{params.clover} models list --json > {output}.tmp 2> {log} && mv {output}.tmp {output}"
