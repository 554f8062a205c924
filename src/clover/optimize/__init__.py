"""The Clover objective, the configuration graph, exact optima and every scheme.

Public API (docs/simulator.md): :func:`make_scheme`, :class:`Decision`, :class:`Scheme` (the
base class of every scheme, docs/extending.md), :data:`SCHEMES` (the scheme registry),
:data:`DEFAULTS`, :func:`clover_objective`, :func:`score`, :func:`solve_milp`,
:func:`exhaustive`, :func:`config_graph`, :func:`graph_edit_distance`, :func:`l1_distance`,
:func:`jung_select`; :class:`Problem` and :class:`SimEvaluator` re-exported from
:mod:`clover.sim`.
"""

from clover.optimize.exact import ExactResult, exhaustive, solve_milp
from clover.optimize.graph import config_graph, graph_edit_distance, l1_distance
from clover.optimize.objective import Score, clover_objective, score
from clover.optimize.registry import SCHEMES, make_scheme
from clover.optimize.schemes import DEFAULTS, Decision, Scheme, jung_select
from clover.sim import Evaluation, Evaluator, Problem, SimEvaluator

__all__ = [
    "DEFAULTS", "SCHEMES", "Decision", "Evaluation", "Evaluator", "ExactResult", "Problem",
    "Scheme", "Score", "SimEvaluator", "clover_objective", "config_graph", "exhaustive",
    "graph_edit_distance", "jung_select", "l1_distance", "make_scheme", "score", "solve_milp",
]
