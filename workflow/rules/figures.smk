# One figure per claim of the paper, PDF and PNG, in paper_figures/.


rule figure:
    input:
        hourly="results/hourly.csv",
        summary="results/summary.csv",
        gpus="results/gpu_count.csv",
        decomposition="results/decomposition.csv",
        reference="results/reference_check.csv",
    output:
        pdf=report(
            "paper_figures/{figure}.pdf",
            caption="../report/figure.rst",
            category="Figures",
        ),
        png="paper_figures/{figure}.png",
    log:
        "logs/figures/{figure}.log",
    params:
        config=config_file,  # the effective config file (common.smk)
        clover=CLOVER,
        settings=command_settings(RUN, "figures"),  # rerun trigger (config values read)
    conda:
        ENV
    shell:
        "{params.clover} figures --config {params.config} --which {wildcards.figure} "
        "--hourly {input.hourly} --summary {input.summary} --gpus {input.gpus} "
        "--decomposition {input.decomposition} --reference {input.reference} "
        "--out {output.pdf} {output.png} 2> {log}"
