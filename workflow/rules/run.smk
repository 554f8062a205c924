# One controller run per app x trace x scheme x lambda (x accuracy floor): the scheme decides
# every hour of the trace; the log has one row per hour (docs/ARCHITECTURE.md, "Controller log").


rule run:
    input:
        data="results/data/verified.txt",
        profiles=lambda wc: profile_path(wc.app),
    output:
        "results/runs/{app}/{trace}/{scheme}_lam{lam}_floor{floor}.csv",
    log:
        "logs/runs/{app}/{trace}/{scheme}_lam{lam}_floor{floor}.log",
    params:
        clover=CLOVER,
        spec=trace_spec,
        data_dir=data_dir_flag(),
        common=run_options(),
    # one live service at a time: with backend live a run takes every core (runs go serially)
    threads: workflow.cores if config["backend"] == "live" else 1
    resources:
        runtime=30,
    conda:
        ENV
    shell:
        "{params.clover} run --app {wildcards.app} --scheme {wildcards.scheme} "
        "--trace {params.spec:q} --trace-name {wildcards.trace} --lam {wildcards.lam} "
        "--max-accuracy-loss {wildcards.floor} --profiles {input.profiles} "
        "{params.common} {params.data_dir} --out {output} 2> {log}"
