"""Protocol presets and knobs (clover.sim.protocol) and the paper problem's sizing."""

import pytest

from clover.errors import CloverError
from clover.models.catalog import largest_variant
from clover.profiles import model_profiles
from clover.sim import Problem
from clover.sim.fcfs import FcfsEvaluator
from clover.sim.protocol import PROTOCOLS, build_problem, protocol_settings


def test_presets():
    assert PROTOCOLS == ("paper", "extended")
    p = protocol_settings("paper")
    assert (p.base_gpu_factor, p.space, p.dispatch, p.lam, p.base_utilisation) == (
        5, "replicated", "fcfs", 0.1, 0.15)
    assert dict(p.request_batch) == {"yolo": 8, "efficientnet": 8, "albert": 1}
    e = protocol_settings("extended")
    assert (e.base_gpu_factor, e.space, e.dispatch, e.lam) == (1, "per-gpu", "optimal", 0.5)
    assert not e.is_paper_like and e.batch("yolo") == 1


def test_presets_are_the_schemas():
    """One executable default per value: the presets are the schema's x-protocol-presets."""
    from clover.config import protocol_presets

    for name, knobs in protocol_presets().items():
        s = protocol_settings(name)
        assert {k: (dict(v) if k == "request_batch" else v) for k, v in vars(s).items()
                if k != "name"} == knobs


def test_a_problem_always_holds_a_protocol_object(profiles):
    """Problem.protocol is the extended preset by default; it builds the evaluator, prices
    reconfigurations and sizes BASE's GPUs (no string or getattr branches outside it)."""
    from clover.sim import SimEvaluator

    p = Problem.build("efficientnet", "a100-40gb", 3, profiles)
    assert p.protocol == protocol_settings("extended") and p.base_gpus == 3
    assert type(p.protocol.evaluator(p)) is SimEvaluator
    assert p.protocol.evaluator(p, simulate=True).simulate
    assert p.protocol.reconfig_costs(5.0, 3.0, 500.0) == (5.0, 3.0, 500.0)
    paper = protocol_settings("paper")
    assert paper.reconfig_costs(5.0, 3.0, 500.0) == (0.0, 0.0, float("inf"))
    assert paper.base_gpus(2) == 10 and paper.sla_by_window and not p.protocol.sla_by_window
    prof = model_profiles("efficientnet", "a100-40gb", batch_sizes=(1, 8))
    q = paper.build_problem("efficientnet", "a100-40gb", 2, prof)
    assert q.protocol is paper and type(paper.evaluator(q)) is FcfsEvaluator and q.lam == 0.1


def test_each_knob_overrides_the_preset():
    s = protocol_settings("paper", base_gpu_factor=1, space="per-gpu", dispatch=None,
                          request_batch={"yolo": 4}, base_utilisation=0.1)
    assert (s.name, s.base_gpu_factor, s.space, s.dispatch, s.base_utilisation) == (
        "paper", 1, "per-gpu", "fcfs", 0.1)
    assert s.batch("yolo") == 4 and s.batch("efficientnet") == 8
    assert protocol_settings("extended", request_batch=2).batch("albert") == 2


@pytest.mark.parametrize("kwargs, msg", [
    ({"name": "papr"}, "unknown protocol 'papr' (known: paper, extended)"),
    ({"space": "shared"}, "unknown space 'shared' (known: replicated, per-gpu)"),
    ({"dispatch": "rr"}, "unknown dispatch 'rr' (known: fcfs, optimal)"),
    ({"base_gpu_factor": 0}, "base_gpu_factor must be an integer >= 1 (got 0)"),
    ({"base_utilisation": 1.2}, "base_utilisation must be in (0, 1) (got 1.2)"),
    ({"request_batch": {"yolo": 0}}, "request_batch.yolo must be an integer >= 1 (got 0)"),
])
def test_bad_knobs_are_one_line_errors(kwargs, msg):
    name = kwargs.pop("name", "paper")
    with pytest.raises(CloverError) as exc:
        protocol_settings(name, **kwargs)
    assert str(exc.value) == msg and "\n" not in str(exc.value)


def test_extended_is_exactly_problem_build(profiles):
    a = Problem.build("efficientnet", "a100-40gb", 10, profiles)
    b = build_problem("efficientnet", "a100-40gb", 10, profiles, protocol_settings("extended"))
    assert (a.rate_rps, a.sla_ms, a.base_carbon_g, a.lam) == (b.rate_rps, b.sla_ms,
                                                             b.base_carbon_g, b.lam)
    assert b.base_gpus == 10


@pytest.mark.parametrize("app, batch", [("yolo", 8), ("albert", 1), ("efficientnet", 8)])
def test_paper_problem_is_sized_on_base_at_k_times_n(app, batch):
    s = protocol_settings("paper")
    prof = model_profiles(app, "a100-40gb", batch_sizes=(1, batch))
    p = build_problem(app, "a100-40gb", 2, prof, s)
    assert p.batch_size == batch and p.lam == 0.1 and p.base_gpus == 10
    big = largest_variant(app).name
    row = prof[(prof.variant == big) & (prof.slice_profile == "7g.40gb")
               & (prof.batch_size == batch)].iloc[0]
    mu = 1000.0 / row.service_ms_mean  # requests (batches) per second
    assert p.rate_rps == pytest.approx(0.15 * 5 * 2 * mu)
    assert p.load_fraction == pytest.approx(0.75)
    base = FcfsEvaluator(p).window(p.base_reference_configuration())
    assert base.n_requests == 2000
    assert p.sla_ms == pytest.approx(base.p95_ms)
    assert p.base_energy_j == pytest.approx(base.energy_j_per_request)
    assert p.base_carbon_g == pytest.approx(base.energy_j_per_request / 3.6e6 * 250 * 1.5)


def test_overload_is_a_clear_error():
    prof = model_profiles("albert", "a100-40gb")
    with pytest.raises(CloverError, match="cannot carry BASE's load"):
        build_problem("albert", "a100-40gb", 2, prof,
                      protocol_settings("paper", base_utilisation=0.2))


def test_missing_batch_rows_name_the_fix():
    prof = model_profiles("yolo", "a100-40gb")
    with pytest.raises(CloverError, match="no batch-8 rows"):
        build_problem("yolo", "a100-40gb", 2, prof, protocol_settings("paper"))
