# The year study (clover.control.year, clover.analysis.year; docs/year.md): config `year`,
# one job per app x group of zones (year.zones_per_job; common.smk's year_groups) over each
# zone's calendar year (month rows), then the annual summary, the "beyond the paper" claims
# and figures (j)-(l). Target: `snakemake --cores 2 year`; part of `all`, its claims rows of
# results/summary.md, under config year.in_all. Modeled profiles, the year section's protocol
# (paper by default).
# rerun trigger of the year jobs: every key `clover year run` reads from the config (not
# year.zones_per_job and year.in_all, which change no number; a job's zones are its `zones`)
YEAR_SETTINGS = RUN.settings([*(f"year.{k}" for k in ("datasets", "apps", "schemes", "protocol",
                                                      "lam", "seed", "service_rps")),
                              "gpu", "n_gpus", "problem", "control", "scheme_params", "data_dir"])


# figures (j)-(l) are the year study's (the `figure` rule draws (a)-(i))
ruleorder: year_figure > figure


rule year_run:
    input:
        data="results/data/verified.txt",
        profiles=lambda wc: profile_path(wc.app),
    output:
        "results/year/parts/{app}/{group}.csv",
    log:
        "logs/year/{app}/{group}.log",
    wildcard_constraints:
        group="g[0-9]+",
    params:
        clover=CLOVER,
        settings=YEAR_SETTINGS,
        zones=lambda wc: " ".join(year_groups()[wc.group]),
        config=config_file,  # the effective config file (common.smk)
    conda:
        ENV
    shell:
        "{params.clover} year run --config {params.config} --app {wildcards.app} "
        "--zone {params.zones} --profiles {input.profiles} "
        "--out {output} 2> {log}"


rule year_summary:
    input:
        year_parts(),
    output:
        monthly="results/year/monthly.csv",
        summary=report("results/year/summary.csv", caption="../report/year.rst", category="Year"),
        claims="results/year/claims.csv",
        markdown="results/year/claims.md",
    log:
        "logs/year/summary.log",
    params:
        clover=CLOVER,
    conda:
        ENV
    shell:
        "{params.clover} year summary --parts {input} --monthly {output.monthly} "
        "--summary {output.summary} --claims {output.claims} --markdown {output.markdown} "
        "> {log} 2>&1"


rule year_figure:
    input:
        summary="results/year/summary.csv",
        monthly="results/year/monthly.csv",
    output:
        pdf=report("paper_figures/{yfig}.pdf", caption="../report/year.rst", category="Year"),
        png="paper_figures/{yfig}.png",
    log:
        "logs/figures/{yfig}.log",
    wildcard_constraints:
        yfig="fig_[jkl]_[a-z_]+",
    params:
        clover=CLOVER,
    conda:
        ENV
    shell:
        "{params.clover} year figure --which {wildcards.yfig} --summary {input.summary} "
        "--monthly {input.monthly} --out {output.pdf} {output.png} 2> {log}"


rule year:
    input:
        year_outputs(),
