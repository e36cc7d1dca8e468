"""Reports to the center: state changes at once, periodic summaries, all within token-bucket budgets.

Path of a report: :class:`Outlet` (one per ProbeConfig) takes a token from the config's bucket and
one from the global bucket, or holds the report back (the latest state change replaces an older held
one, summaries held back are merged into the next), then writes it to the :class:`ReportBuffer`;
:class:`Reporter` sends the buffer's oldest reports in batches and forgets them once the center
answered. Each report has a 32-hex idempotency key made when it was created.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import time
import uuid
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from kubeprobe.kube import tlsguard
from kubeprobe.operator.bucket import TokenBucket, take_both
from kubeprobe.operator.buffer import ReportBuffer
from kubeprobe.operator.denoise import Outcome, State, Transition
from kubeprobe.operator.spec import ProbeConfigSpec

log = logging.getLogger(__name__)
REPORTS_PATH = "/api/v1/resident/reports"


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat()


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class Stats:
    """Raw results of one summary period."""

    start: dt.datetime
    runs: int = 0
    ok: int = 0
    failed: int = 0
    errors: int = 0
    durations_ms: array[float] = field(default_factory=lambda: array("d"))  # 8 bytes a run
    last_message: str = ""

    def add(self, outcome: Outcome, duration_ms: float, message: str) -> None:
        self.runs += 1
        if outcome == "ok":
            self.ok += 1
        elif outcome == "failed":
            self.failed += 1
        else:
            self.errors += 1
        self.durations_ms.append(duration_ms)
        if message:
            self.last_message = message

    def merge(self, other: Stats) -> None:
        self.start = min(self.start, other.start)
        self.runs += other.runs
        self.ok += other.ok
        self.failed += other.failed
        self.errors += other.errors
        self.durations_ms.extend(other.durations_ms)
        self.last_message = other.last_message or self.last_message

    def latency(self) -> dict[str, float]:
        values = sorted(self.durations_ms)
        return {
            "p50": percentile(values, 50),
            "p95": percentile(values, 95),
            "p99": percentile(values, 99),
            "max": values[-1] if values else 0.0,
        }


class Outlet:
    """One ProbeConfig's way to the buffer, within its own budget and the global one."""

    def __init__(
        self,
        spec: ProbeConfigSpec,
        cluster: str,
        buffer: ReportBuffer,
        shared: TokenBucket,
        *,
        clock: Callable[[], float] = time.monotonic,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.spec, self.cluster, self.buffer, self.shared = spec, cluster, buffer, shared
        self.bucket = TokenBucket(spec.budget.rate, spec.budget.burst, clock)
        self._wake = wake
        self.held_state: dict[str, Any] | None = None
        self.held_summary: Stats | None = None
        self.held_summary_extra: dict[str, Any] = {}
        self.suppressed = 0
        self.written = 0

    def _base(self, kind: str, at: dt.datetime) -> dict[str, Any]:
        return {
            "key": uuid.uuid4().hex,
            "kind": kind,
            "cluster": self.cluster,
            "case": self.spec.case_name,
            "config": self.spec.key,
            "probe": self.spec.probe,
            "severity": str(self.spec.severity),
            "at": _iso(at),
        }

    def _write(self, report: dict[str, Any]) -> None:
        self.buffer.add(report["key"], report["kind"], report)
        self.written += 1
        self._wake()

    def state_change(
        self,
        transition: Transition,
        at: dt.datetime,
        message: str,
        consecutive_failures: int,
        ratio: float | None,
        *,
        duration_ms: float | None = None,
    ) -> None:
        report = self._base("state", at)
        report.update(
            state=transition.state,
            previous=transition.previous,
            reason=transition.reason,
            message=message,
            consecutive_failures=consecutive_failures,
            success_ratio=ratio,
            duration_ms=duration_ms,
        )
        if self.held_state is not None:
            # The older held change is replaced: what the center must learn is the latest state.
            report["previous"] = self.held_state["previous"]
            self.suppressed += 1
        self.held_state = report
        self.pump()

    def summary(self, stats: Stats, end: dt.datetime, state: State, consecutive_failures: int) -> None:
        if self.held_summary is not None:
            self.held_summary.merge(stats)
            stats = self.held_summary
        self.held_summary = stats
        self.held_summary_extra = {"end": end, "state": state, "consecutive_failures": consecutive_failures}
        self.pump()

    @property
    def holding(self) -> bool:
        """Reports are held back for want of tokens."""
        return self.held_state is not None or self.held_summary is not None

    def pump(self) -> None:
        """Write what is held back, as far as the budgets allow (state changes first)."""
        if self.held_state is not None and take_both(self.bucket, self.shared):
            self._release_state()
        if self.held_summary is not None and self.held_state is None and take_both(self.bucket, self.shared):
            self._release_summary()

    def drain(self) -> None:
        """Write what is held back whatever the budgets say: the config's loop ends (removed, the
        replica paused or shutting down) and what it held would die with it. At most one state
        change and one summary, once per loop."""
        self._release_state()
        self._release_summary()

    def _release_state(self) -> None:
        report, self.held_state = self.held_state, None
        if report is None:
            return
        report["suppressed"] = self.suppressed
        self.suppressed = 0
        self._write(report)

    def _release_summary(self) -> None:
        stats, extra, self.held_summary = self.held_summary, self.held_summary_extra, None
        if stats is None:
            return
        report = self._base("summary", extra["end"])
        report.update(
            state=extra["state"],
            period_start=_iso(stats.start),
            period_end=_iso(extra["end"]),
            runs=stats.runs,
            ok=stats.ok,
            failed=stats.failed,
            errors=stats.errors,
            latency_ms=stats.latency(),
            consecutive_failures=extra["consecutive_failures"],
            message=stats.last_message,
        )
        self._write(report)


class Reporter:
    """Sends the buffer's reports to the center in order, in batches; retries with back-off."""

    def __init__(
        self,
        buffer: ReportBuffer,
        center_url: str,
        token: str,
        *,
        batch_size: int = 500,
        flush_interval: float = 1.0,
        max_backoff: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.buffer = buffer
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_backoff = max_backoff
        self._http = tlsguard.guard(
            httpx.AsyncClient(
                base_url=center_url.rstrip("/"),
                headers={"Authorization": f"Bearer {token}"},
                timeout=httpx.Timeout(10.0, connect=3.0),
                transport=transport,
            )
        )
        self._wake = asyncio.Event()
        self._sending = asyncio.Lock()  # held while a batch is on the wire
        self._limit = batch_size
        self.sent = 0
        self.duplicates = 0
        self.rejected = 0
        self.failures = 0

    def wake(self) -> None:
        self._wake.set()

    async def close(self) -> None:
        await self._http.aclose()

    def between_batches(self) -> asyncio.Lock:
        """Held, no batch is on the wire: the operator's stop cancels :meth:`run` inside it, so a
        batch is never cut in half (the center logged the client's disconnect as an error, and the
        batch was sent again)."""
        return self._sending

    async def send_once(self) -> int:
        """Send one batch; return how many reports left the buffer. Raises on a retryable failure."""
        async with self._sending:
            return await self._send_batch()

    async def _send_batch(self) -> int:
        batch = self.buffer.peek(self._limit)
        if not batch:
            return 0
        try:
            resp = await self._http.post(REPORTS_PATH, json={"reports": [p.body for p in batch]})
        except httpx.HTTPError as exc:
            raise ConnectionError(f"center unreachable: {exc or type(exc).__name__}") from exc
        if resp.status_code < 300:
            body = resp.json()
            self.sent += int(body.get("accepted", 0))
            self.duplicates += int(body.get("duplicates", 0))
            self.buffer.ack(batch[-1].seq)
            self._limit = self.batch_size
            return len(batch)
        if resp.status_code in (400, 413, 422):
            if len(batch) > 1:  # find the report the center refuses: send one at a time for a while
                self._limit = 1
                return 0
            log.error(
                "center refused report %s for good: %s %s", batch[0].key, resp.status_code, resp.text[:500]
            )
            self.rejected += 1
            self.buffer.ack(batch[0].seq)
            return 1
        raise ConnectionError(f"center answered {resp.status_code}: {resp.text[:300]}")

    async def flush(self) -> None:
        """Send until the buffer is empty (raises when the center cannot take them)."""
        while len(self.buffer):
            await self.send_once()

    async def run(self) -> None:
        backoff = 0.1
        while True:
            try:
                moved = await self.send_once()
                backoff = 0.1
            except ConnectionError as exc:
                self.failures += 1
                log.warning("reports kept in the buffer (%d waiting): %s", len(self.buffer), exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            if moved == 0 or not len(self.buffer):
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.flush_interval)
