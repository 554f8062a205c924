# Controller runs: one job per protocol x grid x app x trace x lambda x floor runs every scheme of
# its grid in one process (`clover run-grid`) and writes one log per scheme, one row per hour
# (docs/ARCHITECTURE.md, "Controller log"). Naming any one log re-creates that job's logs.
# The grid (clover.control.grid.grid_table) comes from the config; one rule per protocol x grid.
# Everything else comes from the config file (--config); the wildcards are the flags.

for _protocol, _grid, _schemes in grid_rules():

    rule:
        name:
            f"run_{_protocol}_{_grid}"
        input:
            data="results/data/verified.txt",
            profiles=lambda wc: profile_path(wc.app),
            trace_file=trace_files,
        output:
            [
                f"results/runs/{_protocol}/{_grid}/{{app}}/{{trace}}/{s}_lam{{lam}}_floor{{floor}}.csv"
                for s in _schemes
            ],
        log:
            f"logs/runs/{_protocol}/{_grid}/{{app}}/{{trace}}/lam{{lam}}_floor{{floor}}.log",
        params:
            config=config_file,  # the effective config file (common.smk)
            clover=CLOVER,
            spec=lambda wc: RUN.trace_spec(wc.trace),
            protocol=_protocol,
            grid=_grid,
            schemes=" ".join(_schemes),
            # rerun trigger: the config values run-grid reads beside these flags
            settings=command_settings(RUN, "run-grid", given=("--lam", "--protocol")),
        # one live service at a time: with backend live a run takes every core (runs go serially)
        threads: workflow.cores if RUN.backend == "live" else 1
        resources:
            runtime=30 * len(_schemes),
        conda:
            ENV
        shell:
            "{params.clover} run-grid --config {params.config} --app {wildcards.app} "
            "--schemes {params.schemes} --grid {params.grid} --protocol {params.protocol} "
            "--trace {params.spec:q} --trace-name {wildcards.trace} --lam {wildcards.lam} "
            "--max-accuracy-loss {wildcards.floor} --profiles {input.profiles} --out {output} 2> {log}"
