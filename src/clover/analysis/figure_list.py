"""The pipeline's figures, one per claim of the paper, in order: the one list that
``workflow/rules/common.smk`` (the Snakefile's targets), ``clover figures`` and
:mod:`clover.analysis.figures` share. Imports nothing heavy (read at Snakefile parse time).

Each name maps to the tables it is drawn from beyond the aggregated run tables:
``decomposition`` = results/decomposition.csv, ``reference`` = results/reference_check.csv.
"""

FIGURE_NAMES = (
    "fig_a_carbon_accuracy",
    "fig_b_latency_sla",
    "fig_c_hourly_objective",
    "fig_d_overhead",
    "fig_e_lambda_floor",
    "fig_f_regions_seasons",
    "fig_g_gpus_embodied",
    "fig_h_decomposition",
    "fig_i_reference_check",
)
