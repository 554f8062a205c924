rule mig_layouts:
    output:
        "results/mig/layouts_{gpu}.json",
    log:
        "logs/mig_layouts_{gpu}.log",
    shell:
        "{CLOVER} mig layouts --gpu {wildcards.gpu} --json > {output}.tmp 2> {log} && mv {output}.tmp {output}"


rule model_catalog:
    output:
        "results/models/catalog.json",
    log:
        "logs/model_catalog.log",
    shell:
        "{CLOVER} models list --json > {output}.tmp 2> {log} && mv {output}.tmp {output}"


rule foundations:
    input:
        expand("results/mig/layouts_{gpu}.json", gpu=config["gpu"]),
        "results/models/catalog.json",
