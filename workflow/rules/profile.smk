# Per-slice profiles of every variant of an app: measured (profile_backend cpu/cuda) or modeled.


rule profile:
    output:
        "results/profiles/{app}_{gpu}.csv",
    log:
        "logs/profile_{app}_{gpu}.log",
    params:
        clover=CLOVER,
        backend=config["profile_backend"],
    conda:
        ENV
    shell:
        "{params.clover} profile --app {wildcards.app} --gpu {wildcards.gpu} "
        "--backend {params.backend} --quiet --out {output} 2> {log}"
