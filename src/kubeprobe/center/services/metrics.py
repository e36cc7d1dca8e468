"""Prometheus metrics about runs, computed from the store at scrape time (so replicas agree, nothing drifts).

`StoreCollector.refresh(store)` runs a few cheap queries at most every `cache_seconds`; `collect()`
then yields the cached snapshot. Cardinality is bounded by clusters x cases (x 3 results); run ids
never become labels.

- ``kubeprobe_run_total{cluster,case,result}``: finished runs, result ``succeeded`` / ``failed``
  (failed or timed out: the case proved a problem) / ``error`` (could not run). Hourly rollups
  before the rollup watermark plus raw runs after it, so retention of raw runs does not lower it.
  Rollups do not tell cancelled runs apart: past the watermark they count as ``succeeded``.
- ``kubeprobe_run_duration_seconds{case}``: histogram of run durations, observed once per run from
  runs that finished since `first_seconds` before this replica's first scrape, re-reading the last
  `lookback_seconds` each time for results that arrive late (a replica's own counter: use
  ``rate()``; several replicas see the same runs).
- ``kubeprobe_case_consecutive_failures{cluster,case}``: failed/timed-out runs since the last success
  (errors neither count nor reset it); 0 when the latest run succeeded.
- ``kubeprobe_case_seconds_since_success{cluster,case}``: seconds since the last successful run (only
  for pairs with a success still in the raw store).
- ``kubeprobe_scheduler_lag_seconds``: age of the oldest pending run (0 when none waits).
- ``kubeprobe_queue_depth{state}``: runs pending, dispatched and running.
- ``kubeprobe_ingestion_runs_per_second``: runs that finished in the last minute, per second.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from kubeprobe.center.store import metrics as run_metrics
from kubeprobe.center.store.common import aware, utcnow
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.metrics import Snapshot
from kubeprobe.model.runs import UNFINISHED_STATES, state_values

BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


@dataclass
class DurationHistogram:
    """Bucket counts per case, filled from runs as they finish (each run once)."""

    buckets: dict[str, list[int]] = field(default_factory=dict)
    sums: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    seen: dict[str, dt.datetime] = field(default_factory=dict)
    cursor: dt.datetime | None = None

    def observe(self, case: str, seconds: float) -> None:
        counts = self.buckets.setdefault(case, [0] * (len(BUCKETS) + 1))
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                counts[i] += 1
        counts[-1] += 1
        self.sums[case] += seconds


class StoreCollector(Collector):
    """Run metrics from the store; `refresh` before `collect` (the /metrics route does)."""

    def __init__(
        self, *, cache_seconds: float = 5.0, lookback_seconds: float = 120.0, first_seconds: float = 3600.0
    ) -> None:
        self.cache_seconds = cache_seconds
        self.lookback = dt.timedelta(seconds=lookback_seconds)
        self.first = dt.timedelta(seconds=first_seconds)
        self.snapshot = Snapshot()
        self.durations = DurationHistogram()
        self._taken: float | None = None
        self._lock = asyncio.Lock()

    async def refresh(self, store: Store) -> None:
        async with self._lock:
            if self._taken is not None and time.monotonic() - self._taken < self.cache_seconds:
                return
            now = utcnow()
            h = self.durations
            since = h.cursor - self.lookback if h.cursor else now - self.first
            snap, cases, finished = await run_metrics.read(store, now, since)
            for run_id, case_id, ended, duration_ms in finished:
                if run_id in h.seen or case_id not in cases or ended is None or duration_ms is None:
                    continue
                h.seen[run_id] = ended
                h.observe(cases[case_id], float(duration_ms) / 1000)
            h.cursor = now
            h.seen = {k: v for k, v in h.seen.items() if aware(v) >= since}
            self.snapshot = snap
            self._taken = time.monotonic()

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        total = CounterMetricFamily(
            "kubeprobe_run", "finished runs by result", labels=["cluster", "case", "result"]
        )
        for (cluster, case, result), n in sorted(snap.run_totals.items()):
            total.add_metric([cluster, case, result], n)
        yield total
        hist = HistogramMetricFamily(
            "kubeprobe_run_duration_seconds", "run durations (runs seen by this replica)", labels=["case"]
        )
        for case, counts in sorted(self.durations.buckets.items()):
            buckets = [(str(b), float(c)) for b, c in zip(BUCKETS, counts, strict=False)]
            buckets.append(("+Inf", float(counts[-1])))
            hist.add_metric([case], buckets, self.durations.sums[case])
        yield hist
        consecutive = GaugeMetricFamily(
            "kubeprobe_case_consecutive_failures",
            "failed or timed-out runs since the last success",
            labels=["cluster", "case"],
        )
        for pair, n in sorted(snap.consecutive_failures.items()):
            consecutive.add_metric(list(pair), n)
        yield consecutive
        since = GaugeMetricFamily(
            "kubeprobe_case_seconds_since_success",
            "seconds since the last successful run",
            labels=["cluster", "case"],
        )
        for pair, seconds in sorted(snap.since_success.items()):
            since.add_metric(list(pair), seconds)
        yield since
        age = GaugeMetricFamily(
            "kubeprobe_binding_last_result_age_seconds",
            "seconds since the last result of an interval binding's case on a cluster (since the binding "
            "was made when there is none): silence is not health",
            labels=["binding", "cluster", "case"],
        )
        interval = GaugeMetricFamily(
            "kubeprobe_binding_interval_seconds",
            "the binding's interval (stale: age above two of them)",
            labels=["binding", "cluster", "case"],
        )
        for key, (seconds, every) in sorted(snap.binding_ages.items()):
            age.add_metric(list(key), seconds)
            interval.add_metric(list(key), every)
        yield age
        yield interval
        queue = GaugeMetricFamily("kubeprobe_queue_depth", "runs not finished yet", labels=["state"])
        for state in state_values(UNFINISHED_STATES):
            queue.add_metric([state], snap.queue.get(state, 0))
        yield queue
        yield GaugeMetricFamily(
            "kubeprobe_scheduler_lag_seconds", "age of the oldest pending run", value=snap.lag_seconds
        )
        yield GaugeMetricFamily(
            "kubeprobe_ingestion_runs_per_second",
            "runs finished in the last minute, per second",
            value=snap.ingestion_per_second,
        )
