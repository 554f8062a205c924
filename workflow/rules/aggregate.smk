# Aggregation: every hourly log into one tidy table, one row per run, and the headline table
# (the paper's claims next to what this run measured).


rule aggregate:
    input:
        runs=all_runs(),
        gpu_count=expand("results/gpu_count/{app}.csv", app=config["gpu_count"]["apps"]),
        decomposition="results/decomposition.csv",
        reference="results/reference_check.csv",
    output:
        hourly="results/hourly.csv",
        summary="results/summary.csv",
        gpus="results/gpu_count.csv",
        md=report("results/summary.md", caption="../report/summary.rst", category="Summary"),
    log:
        "logs/aggregate.log",
    params:
        clover=CLOVER,
        common=aggregate_options(),
    conda:
        ENV
    shell:
        "{params.clover} aggregate --runs {input.runs} --gpu-count {input.gpu_count} "
        "--decomposition {input.decomposition} --reference {input.reference} "
        "{params.common} --hourly {output.hourly} --summary {output.summary} "
        "--gpus {output.gpus} --markdown {output.md} 2> {log}"
