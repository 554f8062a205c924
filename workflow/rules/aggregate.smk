# Aggregation: every hourly log into one tidy table, one row per run, and the headline table
# (the paper's claims next to what this run measured, then, under config year.in_all, the year
# study's claims beyond the paper).


rule aggregate:
    input:
        runs=all_runs(),
        gpu_count=expand("results/gpu_count/{app}.csv", app=RUN.gpu_count.apps),
        decomposition="results/decomposition.csv",
        reference="results/reference_check.csv",
        year_claims=year_claims(),  # config year.in_all: rows beyond the paper
    output:
        hourly="results/hourly.csv",
        summary="results/summary.csv",
        gpus="results/gpu_count.csv",
        adapting="results/adapting.csv",
        md=report("results/summary.md", caption="../report/summary.rst", category="Summary"),
    log:
        "logs/aggregate.log",
    params:
        config=config_file,  # the effective config file (common.smk)
        clover=CLOVER,
        settings=command_settings(RUN, "aggregate"),  # rerun trigger (config values read)
        year_claims=" ".join(f"--year-claims {f}" for f in year_claims()),
    conda:
        ENV
    shell:
        "{params.clover} aggregate --config {params.config} --runs {input.runs} "
        "--gpu-count {input.gpu_count} --decomposition {input.decomposition} "
        "--reference {input.reference} {params.year_claims} "
        "--hourly {output.hourly} --summary {output.summary} "
        "--gpus {output.gpus} --adapting {output.adapting} --markdown {output.md} 2> {log}"
