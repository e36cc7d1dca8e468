"""One ProbeConfig's loop: run the probe on a fixed-rate, jittered schedule; denoise; report.

The schedule is absolute (start + jitter + k * interval), so a slow run does not shift the next
ones; a run never overlaps the previous one, and ticks missed meanwhile are skipped and counted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import random
import time
from array import array
from collections.abc import Callable

from kubeprobe.operator.denoise import Denoiser
from kubeprobe.operator.probes import Probe, run_once
from kubeprobe.operator.reporting import Outlet, Stats
from kubeprobe.operator.spec import ProbeConfigSpec

log = logging.getLogger(__name__)


def jitter_of(key: str, interval: float) -> float:
    """A start offset in [0, interval), stable for a config so replicas and restarts agree."""
    return random.Random(key).uniform(0, interval)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ProbeLoop:
    """Runs one config until cancelled; ``on_change`` is called after each state transition."""

    def __init__(
        self,
        spec: ProbeConfigSpec,
        probe: Probe,
        outlet: Outlet,
        *,
        on_change: Callable[[ProbeLoop], None] = lambda _loop: None,
        clock: Callable[[], float] = time.monotonic,
        jitter: float | None = None,
    ) -> None:
        self.spec, self.probe, self.outlet = spec, probe, outlet
        self.denoiser = Denoiser(spec.rules)
        self.on_change = on_change
        self._clock = clock
        self.jitter = jitter_of(spec.key, spec.interval) if jitter is None else jitter
        self.stats: Stats | None = None  # the current summary period, from its first run
        self.skipped = 0
        self.lateness_ms: array[float] = array("d")  # filled only when keep_lateness (benchmarks)
        self.last_run: dt.datetime | None = None
        self.last_transition: dt.datetime | None = None
        self.last_message = ""
        self.keep_lateness = False

    def record(self, outcome: str, duration_ms: float, message: str, at: dt.datetime) -> None:
        """Feed one raw result: denoise, report a change at once, a summary when its period is over."""
        assert outcome in ("ok", "failed", "error")
        if self.stats is None:
            self.stats = Stats(start=at)
        self.stats.add(outcome, duration_ms, message)  # type: ignore[arg-type]
        self.last_run = at
        if message:
            self.last_message = message
        d = self.denoiser
        transition = d.observe(outcome)  # type: ignore[arg-type]
        if transition is not None:
            self.last_transition = at
            log.info(
                "probe config %s: %s -> %s (%s)",
                self.spec.key,
                transition.previous,
                transition.state,
                transition.reason,
            )
            self.outlet.state_change(
                transition, at, message, d.consecutive_failures, d.success_ratio, duration_ms=duration_ms
            )
            self.on_change(self)
        if (at - self.stats.start).total_seconds() >= self.spec.summary_interval:
            stats, self.stats = self.stats, Stats(start=at)
            self.outlet.summary(stats, at, d.state, d.consecutive_failures)
        else:
            self.outlet.pump()

    async def run(self) -> None:
        interval = self.spec.interval
        next_at = self._clock() + self.jitter
        try:
            while True:
                delay = next_at - self._clock()
                if delay > 0:
                    await asyncio.sleep(delay)
                if self.keep_lateness:
                    self.lateness_ms.append((self._clock() - next_at) * 1000)
                outcome, ms, message = await run_once(self.probe, self.spec.timeout)
                self.record(outcome, ms, message, _now())
                next_at += interval
                behind = self._clock() - next_at
                if behind > 0:
                    missed = math.ceil(behind / interval)
                    self.skipped += missed
                    next_at += missed * interval
        finally:
            await self.probe.close()
