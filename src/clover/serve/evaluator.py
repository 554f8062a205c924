"""The live evaluator: the ``clover.sim`` Evaluator protocol, answered by the real service.

``LiveEvaluator.evaluate(configuration, ci)`` deploys the configuration on the live service,
routes the traffic with the shares the simulator's router would choose for it at this ``ci``
(so the live service and the simulator differ only in what they measure, not in what they
decide), sends the offered load open-loop for one evaluation window, and returns an
``Evaluation`` with what was measured: client-side p95 and mean latency, throughput, the
traffic-weighted accuracy of the variants that actually answered, and energy per request
from the window's energy reading (NVML on GPUs, RAPL or a labelled model on CPU).
``source`` is ``measured-gpu`` or ``measured-cpu``. Every deploy (with the energy drawn while
it ran) and every window is recorded (``deployments``, ``windows``): the live cost model
(``clover.serve.live.MeasuredCosts``) charges the controller's hour from them. A configuration
measured once at an intensity is not measured again at that intensity (the controller asks
for the candidates the scheme already measured).
"""

from __future__ import annotations

import csv
import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from clover.errors import CloverError
from clover.mig.geometry import get_gpu
from clover.models.catalog import get_variant
from clover.models.configuration import Configuration
from clover.hw.energy import InstancePower, Measurement, make_energy_meter
from clover.serve.loadgen import RequestRecord, WindowStats, run_load, summarize

from clover.sim.evaluator import Evaluation


@dataclass(frozen=True)
class Window:
    """Everything measured in one evaluation window (kept for logs)."""

    configuration_key: str
    ci_g_per_kwh: float
    started_utc: float
    stats: WindowStats
    energy: Measurement
    routing: str
    reconfig_s: float
    records: tuple[RequestRecord, ...] = ()


@dataclass(frozen=True)
class Deployment:
    """One deploy on the live service: what it did (``report``: measured ``reconfig_s``,
    replicas started and kept, MIG operations) and the energy drawn while it ran."""

    configuration_key: str
    report: Any  # clover.serve.service.ReconfigReport
    energy: Measurement


def arrival_function(kind: str) -> Callable[[float, float, int], Any]:
    """``(rate_rps, duration_s, seed) -> arrival times`` of workload ``kind`` (``poisson``,
    ``azure:code`` / ``azure-code``, ...: :func:`clover.workload.parse_kind`'s grammar)."""
    from clover.workload import arrivals, parse_kind

    key = parse_kind(kind)
    return lambda rate, duration, seed: arrivals(key, rate, duration, seed)


class LiveEvaluator:
    """Evaluator protocol over a :class:`~clover.serve.service.LiveService`.

    Args:
        service: a started live service.
        problem: the ``clover.sim.Problem`` (rate_rps, sla_ms, profiles, accuracy_floor).
        router: evaluator whose ``shares`` route the traffic (default: ``SimEvaluator(problem)``).
        window_s: evaluation window, s.
        arrivals: ``poisson`` or ``azure:code`` / ``azure:conv``.
        rate_rps: offered load (default ``problem.rate_rps``).
        request_log_dir: write every window's requests as CSV there (optional).
    """

    def __init__(self, service, problem, router=None, *, window_s: float = 10.0,
                 arrivals: str = "poisson", rate_rps: float | None = None, seed: int = 0,
                 request_log_dir: str | Path | None = None, timeout_s: float = 120.0) -> None:
        if window_s <= 0:
            raise CloverError(f"evaluation window must be positive, got {window_s} s")
        self.service = service
        self.problem = problem
        if router is None:
            from clover.sim import SimEvaluator

            router = SimEvaluator(problem)
        self.router = router
        self.window_s = float(window_s)
        self.arrivals = arrival_function(arrivals)
        self.rate_rps = float(rate_rps if rate_rps is not None else problem.rate_rps)
        self.seed = int(seed)
        self.timeout_s = timeout_s
        self.request_log_dir = Path(request_log_dir) if request_log_dir else None
        self.windows: list[Window] = []
        self.deployments: list[Deployment] = []
        self.last_reconfig = None
        self._measured: dict[tuple[str, float], Evaluation] = {}
        self.backend = service.cluster.backend
        self.source = "measured-gpu" if self.backend == "cuda" else "measured-cpu"
        self._n = 0

    # -- energy
    def _meter(self):
        if self.backend == "cuda":
            return self.service.energy_meter()
        spec = get_gpu(self.problem.gpu)
        prof = self.problem.profiles
        batch = int(getattr(self.service, "request_batch", 1))
        prof = prof[prof["batch_size"] == batch].set_index(["variant", "slice_profile"])
        powers = {}
        used: dict[int, int] = {}
        for inst in self.service.instances:
            row = prof.loc[(inst.variant, inst.profile)]
            powers[inst.instance_id] = InstancePower(float(row["power_w_busy"]), float(row["power_w_idle"]))
            used[inst.slot] = used.get(inst.slot, 0) + spec.profile(inst.profile).compute_slices
        n_gpus = self.service.configuration.n_gpus if self.service.configuration else len(used)
        base_idle = sum(spec.idle_power_w * (spec.compute_slices - used.get(s, 0)) / spec.compute_slices
                        for s in range(n_gpus))
        return make_energy_meter("cpu", powers=powers, base_idle_w=base_idle,
                                 model_note=("modeled: measured busy s x slice power of the profile "
                                             "table (power_source modeled) + idle share of each GPU"))

    # -- protocol
    def evaluate(self, configuration: Configuration, ci_g_per_kwh: float) -> Evaluation:
        """Deploy ``configuration``, route as the simulator, measure one window (once per
        configuration and intensity; under FCFS dispatch, where routing does not depend on the
        intensity, once per configuration: a history hit is rescored, not measured again)."""
        fcfs = getattr(self.service, "dispatch", "optimal") == "fcfs"
        key = (configuration.key(), None if fcfs else float(ci_g_per_kwh))
        if key not in self._measured:
            routed = self.deploy(configuration, ci_g_per_kwh)
            self._measured[key] = self.measure(configuration, ci_g_per_kwh, routed=routed)
        return self.rescore(self._measured[key], ci_g_per_kwh)

    def deploy(self, configuration: Configuration, ci_g_per_kwh: float) -> Any:
        """Deploy ``configuration`` routed with the simulator router's shares at this
        intensity, metering the energy drawn meanwhile; returns the router's evaluation."""
        routed = self.router.evaluate(configuration, ci_g_per_kwh)
        shares = {tuple(k): float(v) for k, v in dict(routed.shares).items()}
        meter = self._meter()
        window = f"deploy-{len(self.deployments)}"
        meter.begin_window(window)
        self.last_reconfig = self.service.deploy(configuration, shares=shares)
        self.deployments.append(Deployment(configuration.key(), self.last_reconfig,
                                           meter.end_window(window)))
        return routed

    def rescore(self, evaluation: Evaluation, ci_g_per_kwh: float) -> Evaluation:
        """A measured evaluation at another intensity: the measurements do not change."""
        return dataclasses.replace(evaluation, ci_g_per_kwh=float(ci_g_per_kwh))

    def measure(self, configuration: Configuration, ci_g_per_kwh: float, window_s: float | None = None,
                routed: Any = None) -> Evaluation:
        """Measure the deployed configuration for one window (no redeploy)."""
        if self.service.configuration is None or self.service.configuration.key() != configuration.key():
            raise CloverError("measure(): the configuration is not the deployed one; use evaluate()")
        window = float(window_s or self.window_s)
        self._n += 1
        arrivals = self.arrivals(self.rate_rps, window, self.seed * 100_003 + self._n)
        meter = self._meter()
        t_wall = time.time()
        name = f"window-{self._n}"
        meter.begin_window(name)
        batch = int(getattr(self.service, "request_batch", 1))
        records = run_load(self.service.url, arrivals, duration_s=window, timeout_s=self.timeout_s,
                           request_fields={"batch": batch} if batch != 1 else None)
        stats = summarize(records, window)
        energy = meter.end_window(name, busy_s=stats.busy_s)
        reconfig_s = self.last_reconfig.reconfig_s if self.last_reconfig else 0.0
        routing = self.last_reconfig.weights_source if self.last_reconfig else ""
        self.windows.append(Window(configuration.key(), float(ci_g_per_kwh), t_wall, stats, energy,
                                   routing, reconfig_s, tuple(records)))
        if self.request_log_dir is not None:
            self._write_requests(records, self._n)
        return self._evaluation(configuration, ci_g_per_kwh, stats, energy, routed)

    def _evaluation(self, configuration, ci, stats: WindowStats, energy: Measurement, routed) -> Evaluation:
        answered = stats.answered
        by_type: dict[tuple[str, str], float] = {}
        inst = {i.instance_id: i for i in self.service.instances}
        for iid, n in stats.by_instance.items():
            i = inst.get(iid)
            key = (i.variant, i.profile) if i else (iid, "?")
            by_type[key] = by_type.get(key, 0.0) + n / stats.duration_s
        accuracy = (sum(get_variant(v).accuracy * n for v, n in stats.by_variant.items()) / answered
                    if answered else math.nan)
        e_req = energy.energy_j / answered if answered else math.inf
        sla = float(self.problem.sla_ms)
        sla_met = answered > 0 and stats.failed == 0 and stats.p95_ms <= sla
        reasons = []
        if stats.failed:
            reasons.append(f"{stats.failed} of {stats.sent} requests failed")
        if not (stats.p95_ms <= sla):
            reasons.append(f"p95 {stats.p95_ms:.1f} ms > SLA {sla:.1f} ms")
        floor = getattr(self.problem, "accuracy_floor", None)
        if floor is not None and not accuracy >= floor:
            reasons.append(f"accuracy {accuracy:.2f} < floor {floor:.2f}")
        return Evaluation(
            configuration=configuration, rate_rps=self.rate_rps, shares=by_type, accuracy=accuracy,
            energy_j_per_request=e_req, power_w=energy.power_w, p95_ms=stats.p95_ms,
            mean_latency_ms=stats.mean_latency_ms, throughput_rps=stats.throughput_rps,
            sla_ms=sla, sla_met=sla_met, feasible=not reasons, source=self.source,
            ci_g_per_kwh=float(ci), reason="; ".join(reasons))

    def _write_requests(self, records, n: int) -> None:
        from clover.paths import atomic_write

        path = self.request_log_dir / f"window_{n:04d}.csv"
        fields = [f.name for f in dataclasses.fields(RequestRecord)]
        with atomic_write(path) as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(fields)
            for r in records:
                w.writerow([getattr(r, f) for f in fields])

    @property
    def last_window(self) -> Window | None:
        return self.windows[-1] if self.windows else None

    def shares_of(self, evaluation: Evaluation) -> Mapping:
        return evaluation.shares
