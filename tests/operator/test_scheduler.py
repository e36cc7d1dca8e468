"""The heap scheduler on the real event loop (short intervals, generous bounds): spread starts,
no overlap, skipped ticks, timeouts, the in-flight bound, eager probes that suspend, removal."""

from __future__ import annotations

import asyncio
import itertools
import time
from array import array
from pathlib import Path

import pytest

from kubeprobe.kube.waiting import wait_for
from kubeprobe.operator.bucket import TokenBucket
from kubeprobe.operator.buffer import ReportBuffer
from kubeprobe.operator.loop import ProbeLoop
from kubeprobe.operator.probes import Probe, ProbeFailure
from kubeprobe.operator.reporting import Outlet
from kubeprobe.operator.scheduler import ProbeScheduler
from kubeprobe.operator.spec import ProbeConfigSpec


class Sleeper(Probe):
    """Waits ``params.sleep`` seconds; counts runs and the most runs at once over all instances."""

    now = 0
    peak = 0

    def __init__(self, spec: ProbeConfigSpec) -> None:
        super().__init__(spec, None)  # type: ignore[arg-type]
        self.starts: list[float] = []

    async def run(self) -> None:
        self.starts.append(time.monotonic())
        Sleeper.now += 1
        Sleeper.peak = max(Sleeper.peak, Sleeper.now)
        try:
            await asyncio.sleep(float(self.spec.params.get("sleep", 0)))
            if self.spec.params.get("fail"):
                raise ProbeFailure("broken on purpose")
        finally:
            Sleeper.now -= 1


class EagerCheck(Sleeper):
    eager = True


def make_loop(tmp_path: Path, name: str, probe_type: type[Sleeper] = Sleeper, **params: object) -> ProbeLoop:
    interval = float(params.pop("interval", 0.1))  # type: ignore[arg-type]
    timeout = float(params.pop("timeout", interval))  # type: ignore[arg-type]
    spec = ProbeConfigSpec("ns", name, "sleeper", interval=interval, timeout=timeout, params=params)
    outlet = Outlet(spec, "c0", ReportBuffer(tmp_path / f"{name}.db"), TokenBucket(100, 100))
    return ProbeLoop(spec, probe_type(spec), outlet)


async def run_for(scheduler: ProbeScheduler, loops: list[ProbeLoop], seconds: float) -> None:
    scheduler.start()
    for loop in loops:
        scheduler.add(loop)
    try:
        await asyncio.sleep(seconds)
    finally:
        for loop in loops:
            await scheduler.remove(loop)
        await scheduler.stop()


async def test_runs_follow_the_interval_and_record_lateness(tmp_path: Path) -> None:
    loops = [make_loop(tmp_path, f"p{i}", EagerCheck if i % 2 else Sleeper) for i in range(20)]
    scheduler = ProbeScheduler()
    scheduler.lateness_ms = array("d")
    await run_for(scheduler, loops, 1.5)
    for loop in loops:
        # ~15 ticks of 0.1 s in 1.5 s (the first after a jitter below 0.1 s); a busy machine may
        # skip a few, never run more than its schedule allows.
        assert 8 <= loop.denoiser.runs + loop.skipped <= 16, (loop.spec.name, loop.denoiser.runs)
        assert loop.denoiser.state == "healthy"
    assert len(scheduler.lateness_ms) == scheduler.started == sum(loop.denoiser.runs for loop in loops)
    assert min(scheduler.lateness_ms) >= 0


async def test_a_slow_run_never_overlaps_the_next_tick_is_skipped(tmp_path: Path) -> None:
    loop = make_loop(tmp_path, "slow", sleep=0.25, interval=0.1, timeout=1.0)
    scheduler = ProbeScheduler()
    await run_for(scheduler, [loop], 1.2)
    starts = loop.probe.starts  # type: ignore[attr-defined]
    assert 2 <= len(starts) <= 5
    assert all(b - a >= 0.25 for a, b in itertools.pairwise(starts))
    assert loop.skipped >= 4


async def test_a_run_past_its_timeout_is_cancelled_and_failed(tmp_path: Path) -> None:
    loop = make_loop(tmp_path, "stuck", sleep=10, interval=0.2, timeout=0.1)
    scheduler = ProbeScheduler()
    await run_for(scheduler, [loop], 1.0)
    stats = loop.stats
    assert stats is not None
    assert stats.failed >= 3
    assert stats.ok == 0
    assert "timed out after 0.1s" in stats.last_message
    assert loop.denoiser.state == "failing"
    assert scheduler.in_flight == 0


async def test_runs_in_flight_are_bounded_and_the_rest_wait_in_order(tmp_path: Path) -> None:
    Sleeper.peak = 0
    loops = [make_loop(tmp_path, f"w{i}", sleep=0.05, interval=0.2) for i in range(12)]
    scheduler = ProbeScheduler(max_in_flight=3)
    scheduler.lateness_ms = array("d")
    await run_for(scheduler, loops, 1.0)
    assert Sleeper.peak == 3
    assert all(loop.denoiser.runs >= 1 for loop in loops)
    assert max(scheduler.lateness_ms) >= 40  # some waited for a free place (~50 ms a turn)


async def test_an_eager_probe_that_suspends_finishes_in_a_task(tmp_path: Path) -> None:
    ok = make_loop(tmp_path, "eager-ok", EagerCheck, sleep=0.02, interval=0.1)
    bad = make_loop(tmp_path, "eager-bad", EagerCheck, sleep=0.02, interval=0.1, fail=True)
    scheduler = ProbeScheduler()
    await run_for(scheduler, [ok, bad], 0.8)
    assert ok.denoiser.runs >= 3
    assert ok.denoiser.state == "healthy"
    assert bad.denoiser.runs >= 3
    assert bad.denoiser.state == "failing"
    assert bad.last_message == "broken on purpose"
    assert Sleeper.now == 0  # every run ended (the last ones by cancellation)


async def test_removed_loop_stops_and_its_run_in_flight_is_cancelled(tmp_path: Path) -> None:
    loop = make_loop(tmp_path, "gone", EagerCheck, sleep=5, interval=0.1, timeout=0.1)
    keep = make_loop(tmp_path, "keep", interval=0.1)
    scheduler = ProbeScheduler()
    scheduler.start()
    try:
        scheduler.add(loop)
        scheduler.add(keep)
        await wait_for(lambda: _now(loop.running), bool, timeout=5, interval=0.01, what="a run in flight")
        await scheduler.remove(loop)
        assert loop.task is None
        assert not loop.active
        runs = loop.denoiser.runs
        before = keep.denoiser.runs
        await asyncio.sleep(0.5)
        assert loop.denoiser.runs == runs  # nothing more after removal
        assert keep.denoiser.runs >= before + 2
        assert len(scheduler) == 1
    finally:
        await scheduler.stop()


async def _now(value: bool) -> bool:
    return value


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_in_flight=0"):
        ProbeScheduler(max_in_flight=0)
