# Per-slice profile tables (clover.profiles; docs/profiles.md). The modeled backend needs no
# hardware and is the default; set profiles.backend to cpu or cuda to measure instead.


rule profile:
    input:
        # the modeled backend's constants (repository data/, found from any --directory)
        str(REPO / "data" / "profile_model.yaml"),
    output:
        "results/profiles/{app}_{gpu}_{backend}.csv",
    log:
        "logs/profile_{app}_{gpu}_{backend}.log",
    wildcard_constraints:
        backend="model|cpu|cuda",
    params:
        clover=CLOVER,
        extra=profile_extra_args,
    conda:
        ENV
    shell:
        "{params.clover} profile --app {wildcards.app} --gpu {wildcards.gpu} "
        "--backend {wildcards.backend} {params.extra} --out {output} --quiet > {log} 2>&1"
