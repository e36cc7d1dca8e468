"""One scheduler for every ProbeConfig loop: a heap of due times, fired in slots by one task.

Cloudprober's model: probes only produce results; one scheduler spreads their starts over the
interval (each loop's stable jitter) and runs them. Compared with one sleeping task per config it
costs one heap entry per config, wakes at most once per ``slot`` however many configs are due, and
bounds the runs in flight (``max_in_flight``; the others wait in order, and their wait counts as
lateness).

- The schedule is absolute: tick *k* of a loop is due at ``first + k * interval``. A tick whose
  previous run is still going (or still waiting for a free place) is skipped and counted, never
  stacked; ticks missed while the process did not get the CPU are skipped too.
- Lateness of a run = its actual start - its due time, on the event loop's clock.
- A probe whose class says ``eager = True`` (an in-process check that usually finishes without
  waiting) starts inline: no task unless it really suspends. Every other probe runs in a task from
  its first line, so its cancel scopes and timeouts belong to that task.
- The timeout of a run is the config's ``timeout``; a run past it is cancelled and counted failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from array import array
from collections import deque
from collections.abc import Coroutine, Generator
from typing import Any

from kubeprobe.operator.denoise import Outcome
from kubeprobe.operator.loop import ProbeLoop
from kubeprobe.operator.probes import classify

log = logging.getLogger(__name__)


class _Resumed:
    """Awaits the rest of a coroutine that was started outside a task and suspended on ``first``."""

    __slots__ = ("coro", "first")

    def __init__(self, coro: Coroutine[Any, Any, None], first: Any) -> None:
        self.coro, self.first = coro, first

    def __await__(self) -> Generator[Any, Any, None]:
        coro, pending = self.coro, self.first
        while True:
            try:
                sent = yield pending
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:
                try:
                    pending = coro.throw(exc)
                except StopIteration:
                    return
                continue
            try:
                pending = coro.send(sent)
            except StopIteration:
                return


class ProbeScheduler:
    """Runs the added loops on their schedules until :meth:`stop`; see the module docstring."""

    def __init__(self, *, max_in_flight: int = 256, slot: float = 0.001, burst: int = 2000) -> None:
        if max_in_flight < 1 or slot <= 0 or burst < 1:
            raise ValueError(
                f"scheduler: max_in_flight={max_in_flight}, burst={burst} must be >= 1; slot={slot} > 0"
            )
        self.max_in_flight, self.slot, self.burst = max_in_flight, slot, burst
        self._heap: list[tuple[float, int, ProbeLoop]] = []
        self._seq = 0
        self._waiting: deque[tuple[ProbeLoop, float]] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self.in_flight = 0
        self.started = 0
        self.skipped = 0
        self.lateness_ms: array[float] | None = None  # set to array("d") to keep every lateness
        self._sleeper: asyncio.Future[None] | None = None
        self._sleep_until = 0.0
        self._driver: asyncio.Task[None] | None = None
        self._stopping = False

    def __len__(self) -> int:
        return sum(1 for _, _, loop in self._heap if loop.active)

    def start(self) -> None:
        if self._driver is None:
            self._stopping = False
            self._driver = asyncio.get_running_loop().create_task(self._drive(), name="probe-scheduler")

    def add(self, loop: ProbeLoop) -> None:
        """Schedule ``loop``: its first run is due one jitter from now."""
        due = asyncio.get_running_loop().time() + loop.jitter
        loop.active = True
        self._push(due, loop)
        sleeper = self._sleeper
        if sleeper is not None and due < self._sleep_until and not sleeper.done():
            sleeper.set_result(None)

    async def remove(self, loop: ProbeLoop) -> None:
        """Stop scheduling ``loop``, cancel its run in flight, close its probe."""
        loop.active = False  # its heap entry is dropped when it comes up
        task = loop.task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await loop.probe.close()

    async def stop(self) -> None:
        """Stop the driver and every run in flight (probes are closed by :meth:`remove`)."""
        self._stopping = True
        if self._driver is not None:
            self._driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._driver
            self._driver = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._waiting.clear()

    def _push(self, due: float, loop: ProbeLoop) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, loop))

    async def _sleep_until_due(self, until: float) -> None:
        aio = asyncio.get_running_loop()
        fut: asyncio.Future[None] = aio.create_future()
        self._sleeper, self._sleep_until = fut, until
        handle = aio.call_at(until, _wake, fut)
        try:
            await fut
        finally:
            handle.cancel()
            self._sleeper = None

    async def _drive(self) -> None:
        aio = asyncio.get_running_loop()
        clock = aio.time
        heap = self._heap
        while True:
            now = clock()
            if not heap:
                await self._sleep_until_due(now + 3600)
                continue
            if heap[0][0] > now:
                # Sleep until the next due time, but at least one slot: configs due within the
                # same slot are fired by one wake-up.
                await self._sleep_until_due(max(heap[0][0], now + self.slot))
                continue
            fired = 0
            while heap and heap[0][0] <= now and fired < self.burst:
                due, _, loop = heapq.heappop(heap)
                if not loop.active:
                    continue
                fired += 1
                interval = loop.spec.interval
                following = due + interval
                if following <= now:  # the process was not running for a while: skip what is past
                    missed = int((now - due) // interval)
                    loop.skipped += missed
                    self.skipped += missed
                    following = due + (missed + 1) * interval
                self._push(following, loop)
                if loop.running:
                    loop.skipped += 1
                    self.skipped += 1
                elif self.in_flight >= self.max_in_flight:
                    loop.running = True
                    self._waiting.append((loop, due))
                else:
                    self._start(loop, due, now)
                now = clock()
            if fired >= self.burst:
                await asyncio.sleep(0)  # let runs in flight and the rest of the process move

    def _start(self, loop: ProbeLoop, due: float, start: float) -> None:
        """Start one run; ``start`` is the event loop's time now (read by the caller)."""
        if self.lateness_ms is not None:
            self.lateness_ms.append((start - due) * 1000)
        self.started += 1
        loop.running = True
        t0 = time.perf_counter()
        if not loop.probe.eager:
            self._spawn(loop, self._run_task(loop, None, None, t0, start))
            return
        coro = loop.probe.run()
        try:
            first = coro.send(None)
        except StopIteration:
            loop.running = False
            loop.record("ok", (time.perf_counter() - t0) * 1000, "", time.time())
            return
        except Exception as exc:  # the probe's verdict: classified like any other run
            loop.running = False
            outcome, message = classify(exc, loop.spec.timeout)
            loop.record(outcome, (time.perf_counter() - t0) * 1000, message, time.time())
            return
        self._spawn(loop, self._run_task(loop, coro, first, t0, start))

    def _spawn(self, loop: ProbeLoop, coro: Coroutine[Any, Any, None]) -> None:
        self.in_flight += 1
        task = asyncio.get_running_loop().create_task(coro)
        loop.task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_task(
        self,
        loop: ProbeLoop,
        coro: Coroutine[Any, Any, None] | None,
        first: Any,
        t0: float,
        start: float,
    ) -> None:
        outcome: Outcome = "ok"
        message = ""
        try:
            async with asyncio.timeout_at(start + loop.spec.timeout):
                if coro is None:
                    await loop.probe.run()
                else:
                    await _Resumed(coro, first)
        except Exception as exc:
            outcome, message = classify(exc, loop.spec.timeout)
        finally:
            self.in_flight -= 1
            loop.running = False
            loop.task = None
            self._release()
        if loop.active:
            loop.record(outcome, (time.perf_counter() - t0) * 1000, message, time.time())

    def _release(self) -> None:
        """Start runs that wait for a free place, oldest first."""
        while self._waiting and self.in_flight < self.max_in_flight and not self._stopping:
            loop, due = self._waiting.popleft()
            loop.running = False
            if loop.active:
                self._start(loop, due, asyncio.get_running_loop().time())


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
