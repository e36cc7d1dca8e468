"""One ProbeConfig's loop: what happens with each raw result (denoise, report), and its schedule data.

The runs themselves are started by :class:`kubeprobe.operator.scheduler.ProbeScheduler`, which
keeps every loop of the process on one heap; a loop only holds its config, probe, denoiser, outlet
and the bookkeeping the scheduler and the CR status need. Per run the work is constant: a few
counter updates, one array append for the summary's latency percentiles, and a report only on a
state change or at the end of a summary period.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections.abc import Callable

from kubeprobe.operator.denoise import Denoiser, Outcome
from kubeprobe.operator.probes import Probe
from kubeprobe.operator.reporting import Outlet, Stats
from kubeprobe.operator.spec import ProbeConfigSpec

log = logging.getLogger(__name__)


def jitter_of(key: str, interval: float) -> float:
    """A start offset in [0, interval), stable for a config so replicas and restarts agree."""
    return random.Random(key).uniform(0, interval)


def _utc(at: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(at, dt.UTC)


class ProbeLoop:
    """One config's results; ``on_change`` is called after each state transition."""

    __slots__ = (
        "_period_end",
        "active",
        "denoiser",
        "jitter",
        "last_message",
        "last_run_at",
        "last_transition",
        "on_change",
        "outlet",
        "probe",
        "running",
        "skipped",
        "spec",
        "stats",
        "task",
    )

    def __init__(
        self,
        spec: ProbeConfigSpec,
        probe: Probe,
        outlet: Outlet,
        *,
        on_change: Callable[[ProbeLoop], None] = lambda _loop: None,
        jitter: float | None = None,
    ) -> None:
        self.spec, self.probe, self.outlet = spec, probe, outlet
        self.denoiser = Denoiser(spec.rules)
        self.on_change = on_change
        self.jitter = jitter_of(spec.key, spec.interval) if jitter is None else jitter
        self.stats: Stats | None = None  # the current summary period, from its first run
        self._period_end = 0.0
        self.skipped = 0  # ticks not run: the previous run was still going, or the process lagged
        self.last_run_at: float | None = None  # epoch seconds
        self.last_transition: dt.datetime | None = None
        self.last_message = ""
        # Scheduler bookkeeping: still scheduled; a run started or waiting; the run's task if any.
        self.active = False
        self.running = False
        self.task: asyncio.Task[None] | None = None

    @property
    def last_run(self) -> dt.datetime | None:
        return _utc(self.last_run_at) if self.last_run_at is not None else None

    def record(self, outcome: Outcome, duration_ms: float, message: str, at: float) -> None:
        """Feed one raw result (``at`` in epoch seconds): denoise, report a change at once, a
        summary when its period is over."""
        stats = self.stats
        if stats is None:
            stats = self.stats = Stats(start=_utc(at))
            self._period_end = at + self.spec.summary_interval
        stats.add(outcome, duration_ms, message)
        self.last_run_at = at
        if message:
            self.last_message = message
        d = self.denoiser
        transition = d.observe(outcome)
        if transition is not None:
            when = self.last_transition = _utc(at)
            log.info(
                "probe config %s: %s -> %s (%s)",
                self.spec.key,
                transition.previous,
                transition.state,
                transition.reason,
            )
            self.outlet.state_change(
                transition, when, message, d.consecutive_failures, d.success_ratio, duration_ms=duration_ms
            )
            self.on_change(self)
        if at >= self._period_end:
            end = _utc(at)
            self.stats = Stats(start=end)
            self._period_end = at + self.spec.summary_interval
            self.outlet.summary(stats, end, d.state, d.consecutive_failures)
        elif self.outlet.holding:
            self.outlet.pump()

    def close(self, at: float) -> None:
        """The loop has ended (config removed, replica paused or shutting down; no run in flight):
        the open summary period goes out now, ending at ``at``, with whatever the budgets held
        back, so a graceful stop loses no result (summaries tile time up to the stop)."""
        stats, self.stats = self.stats, None
        if stats is not None and stats.runs:
            d = self.denoiser
            self.outlet.summary(stats, _utc(at), d.state, d.consecutive_failures)
        self.outlet.drain()
