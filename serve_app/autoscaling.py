"""Autoscaling on the CPU a replica uses and the briefs arriving at it, as well as on its requests in flight.

Serve's default rule scales on requests in flight a replica. That counts work right when every request is one brief,
but a `/v1/recommend/batch` request holds up to 64 briefs, and each encoder call a whole micro-batch: under batch
traffic the Ingress and BriefEncoder replicas fill their cores while the rule sees a request or two each and adds
no replica. So these replicas also report the share of a core their process used since their last report
(`CpuBusy`, Serve's `record_autoscaling_stats` hook), and `CpuOrRequestsPolicy` asks for whichever is more: the
default rule's replicas, or enough that the reported CPU comes to `target_cpu_busy` a replica. Serve applies the
autoscaling_config's delays, factors and min/max around it, as it does for its own rule.

Neither signal says how far a spike has gone past what the replicas can do. A replica's cores stop rising at its
ceiling (run 25: ~0.85 of a core an Ingress replica with one micro-batch in flight, whatever the rate), and requests
in flight grow only as fast as a queue builds. The briefs arriving at a replica keep rising with the offered load,
so the Ingress also reports them a second (`briefs_per_s`), and with `target_briefs_per_s` (a rate one replica
answers within the latency goal, measured) the policy asks for that share of the arrivals too.

Serve averages every report over `look_back_period_s`, which is what keeps a steady load from flapping, but in a
spike that mean crosses the target seconds after the replicas' own reports do (run 25: the Ingress's cores passed
0.7 a replica ~4 s into a 50 -> 500 req/s ramp, the 6 s mean ~3 s later). With `recent_s` what a replica reported
over its last `recent_s` seconds may also raise the target (never lower it), so adding replicas follows the reports
while removing them still waits for the look-back mean and `downscale_delay_s`.

Serve pickles this module by value into its controller, so it imports nothing of this project.
"""

from __future__ import annotations

import threading
import time

from ray.serve.autoscaling_policy import replica_queue_length_autoscaling_policy

CPU_BUSY_METRIC = "cpu_busy"
ARRIVALS_METRIC = "briefs_per_s"


class WindowedRate:
    """How fast a running total grew per wall second, over windows of at least `window_s`.

    The first window opens at the first `sample()`, which Serve makes once the replica is up: what a replica does
    while starting (its warm-up brief, building its FastAPI app, measured at ~0.4 s of CPU right after the
    constructor on 2 cores) is not load, and reported as load it would make every new replica ask for another.
    Between window ends the last full window's value is repeated, so a report a few milliseconds after the previous
    one is not noise.
    """

    def __init__(self, window_s: float = 1.0) -> None:
        self.window_s = window_s
        self._lock = threading.Lock()
        self._opened: tuple[float, float] | None = None
        self._value = 0.0

    def sample(self, total: float) -> float:
        now = time.monotonic()
        with self._lock:
            if self._opened is None:
                self._opened = (now, total)
            elif now - self._opened[0] >= self.window_s:
                then, total_then = self._opened
                self._value = max(0.0, total - total_then) / (now - then)
                self._opened = (now, total)
            return self._value


class CpuBusy(WindowedRate):
    """Cores this process used (all its threads: event loop, post-processing, Ray's own) per wall second; 1.0 is one
    core kept busy."""

    def sample(self, extra_cpu_s: float = 0.0) -> float:  # type: ignore[override]
        """`extra_cpu_s`: CPU seconds so far of work the process hands to its children (a running total)."""
        return super().sample(time.process_time() + extra_cpu_s)


class ReportsCpu:
    """Mixed into a deployment (Ingress, BriefEncoder): Serve's custom-metrics hook, reporting the cores the replica
    used (`CpuBusy`) and, where it counts them, the briefs arriving a second, which `CpuOrRequestsPolicy` scales on."""

    _cpu_busy: CpuBusy | None = None
    _arrivals: WindowedRate | None = None
    # Briefs offered to the replica so far, answered or turned away: a deployment that counts them sets it to 0 and
    # adds to it (None: it does not count them).
    arrived: int | None = None

    def children_cpu_s(self) -> float:
        """CPU seconds so far of the replica's child processes (0: it has none); counted as the replica's own."""
        return 0.0

    def briefs_arrived(self) -> int | None:
        """Briefs offered to the replica so far, answered or turned away (None: it does not count them)."""
        return self.arrived

    def record_autoscaling_stats(self) -> dict[str, float]:
        if self._cpu_busy is None:  # Serve reports only once the replica is up: start-up is not load
            self._cpu_busy = CpuBusy()
        stats = {CPU_BUSY_METRIC: self._cpu_busy.sample(self.children_cpu_s())}
        arrived = self.briefs_arrived()
        if arrived is not None:
            self._arrivals = self._arrivals or WindowedRate()
            stats[ARRIVALS_METRIC] = self._arrivals.sample(arrived)
        return stats


class CpuOrRequestsPolicy:
    """A deployment's replicas: Serve's default rule on requests in flight, raised to what the replicas' reported
    CPU needs at `target_cpu_busy` cores a replica and, with `target_briefs_per_s`, to what their reported arrivals
    need at that rate a replica. Without reports (replicas starting, or a deployment that does not report) it is the
    default rule exactly."""

    def __init__(self, target_cpu_busy: float = 0.6, recent_s: float = 0.0,
                 target_briefs_per_s: float | None = None) -> None:
        if not 0.0 < target_cpu_busy <= 4.0:
            raise ValueError(f"target_cpu_busy must be in (0, 4] cores a replica, not {target_cpu_busy}")
        if recent_s < 0.0:
            raise ValueError(f"recent_s must be >= 0 seconds (0: the look-back mean alone), not {recent_s}")
        if target_briefs_per_s is not None and target_briefs_per_s <= 0.0:
            raise ValueError(f"target_briefs_per_s must be > 0 briefs a second a replica, or null, "
                             f"not {target_briefs_per_s}")
        self.recent_s = float(recent_s)
        self.targets = {CPU_BUSY_METRIC: float(target_cpu_busy)}  # metric -> its value a replica
        if target_briefs_per_s is not None:
            self.targets[ARRIVALS_METRIC] = float(target_briefs_per_s)

    @property
    def target_cpu_busy(self) -> float:
        return self.targets[CPU_BUSY_METRIC]

    def __call__(self, ctx) -> tuple[float, dict]:
        by_requests, state = replica_queue_length_autoscaling_policy(ctx)
        if ctx.current_num_replicas == 0:
            return by_requests, state
        desired = by_requests
        for metric, target in self.targets.items():
            means = (ctx.aggregated_metrics or {}).get(metric) or {}
            if not means:
                continue
            total = sum(means.values())
            if self.recent_s > 0.0:
                total = max(total, self._recent_total(ctx, metric))
            desired = max(desired, total / target)
        return desired, state

    def _recent_total(self, ctx, metric: str) -> float:
        """`metric` summed over the running replicas, each its mean over the last `recent_s` seconds of reports (a
        replica with no report that recent counts its newest, so a replica too busy to report is not read as idle)."""
        series_by_replica = (ctx.raw_metrics or {}).get(metric) or {}
        since = (ctx.current_time or time.time()) - self.recent_s
        total = 0.0
        for series in series_by_replica.values():
            if not series:
                continue
            recent = [point.value for point in series if point.timestamp >= since]
            total += sum(recent) / len(recent) if recent else series[-1].value
        return total
