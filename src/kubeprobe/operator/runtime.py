"""``ProbeOperator``: every ProbeConfig's loop in one process, the reporter, and status writing.

It does not know kopf: :mod:`kubeprobe.operator.handlers` calls :meth:`ProbeOperator.upsert` and
:meth:`ProbeOperator.remove`; tests drive it directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import socket
import time
from typing import Any

from kubeprobe.kube.client import KubeClient, resource_path
from kubeprobe.kube.errors import KubeError, NotFoundError
from kubeprobe.operator.bucket import TokenBucket
from kubeprobe.operator.buffer import ReportBuffer
from kubeprobe.operator.loop import ProbeLoop
from kubeprobe.operator.probes import ProbeRegistry, registry
from kubeprobe.operator.reporting import Outlet, Reporter
from kubeprobe.operator.scheduler import ProbeScheduler
from kubeprobe.operator.settings import OperatorSettings
from kubeprobe.operator.spec import API_VERSION, PLURAL, ProbeConfigSpec

log = logging.getLogger(__name__)


def _iso(t: dt.datetime | None) -> str | None:
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if t else None


class ProbeOperator:
    """Owns one :class:`ProbeLoop` per ProbeConfig, keyed ``namespace/name``."""

    def __init__(
        self,
        kube: KubeClient,
        settings: OperatorSettings,
        *,
        probes: ProbeRegistry = registry,
        buffer: ReportBuffer | None = None,
        write_status: bool = True,
    ) -> None:
        self.kube, self.settings, self.probes = kube, settings, probes
        self.identity = settings.identity or socket.gethostname()
        self.buffer = buffer or ReportBuffer(settings.buffer_path, settings.buffer_capacity)
        self.shared = TokenBucket(settings.global_rate, settings.global_burst)
        self.reporter = (
            Reporter(self.buffer, settings.center_url, settings.center_token, batch_size=settings.batch_size)
            if settings.center_url
            else None
        )
        self.write_status = write_status
        self.loops: dict[str, ProbeLoop] = {}
        self.scheduler = ProbeScheduler(max_in_flight=settings.max_in_flight)
        self._dirty: set[str] = set()
        self._status_wake = asyncio.Event()
        self._background: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.scheduler.start()
        if self.reporter:
            self._background.append(asyncio.create_task(self.reporter.run(), name="reporter"))
        if self.write_status:
            self._background.append(asyncio.create_task(self._status_writer(), name="status-writer"))

    async def stop(self) -> None:
        gc.unfreeze()
        await self.scheduler.stop()
        loops = list(self.loops.values())
        self.loops.clear()
        now = time.time()
        for loop in loops:
            loop.active = False
            loop.close(now)  # the open summary periods, into the outbox before the last flush
        await asyncio.gather(*(loop.probe.close() for loop in loops), return_exceptions=True)
        idle = self.reporter.between_batches() if self.reporter else contextlib.nullcontext()
        async with idle:  # a batch on the wire is answered first (its HTTP timeout bounds this)
            for task in self._background:
                task.cancel()
            for task in self._background:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._background.clear()
        if self.reporter:
            with contextlib.suppress(ConnectionError):
                await asyncio.wait_for(self.reporter.flush(), 5)
            await self.reporter.close()

    async def upsert(self, spec: ProbeConfigSpec) -> bool:
        """Start the config's loop, or restart it when its spec changed; True if (re)started."""
        old = self.loops.get(spec.key)
        if old is not None and old.spec == spec:
            return False
        if old is not None:
            await self.remove(spec.key)
        probe = self.probes.create(spec, self.kube)
        wake = self.reporter.wake if self.reporter else (lambda: None)
        outlet = Outlet(spec, self.settings.cluster, self.buffer, self.shared, wake=wake)
        loop = ProbeLoop(spec, probe, outlet, on_change=self._changed)
        self.loops[spec.key] = loop
        self.scheduler.add(loop)
        self._dirty.add(spec.key)
        self._status_wake.set()
        log.info("probe config %s: started (%s every %gs)", spec.key, spec.probe, spec.interval)
        # Long-lived loop objects leave the collector's generations: full collections over
        # thousands of loops otherwise stall every loop for hundreds of ms (bench/resident.py).
        gc.freeze()
        return True

    async def remove(self, key: str) -> None:
        gc.unfreeze()  # let the removed loop's objects be collected; the next upsert freezes again
        loop = self.loops.pop(key, None)
        self._dirty.discard(key)
        if loop is not None:
            await self.scheduler.remove(loop)
            loop.close(time.time())

    def _changed(self, loop: ProbeLoop) -> None:
        self._dirty.add(loop.spec.key)
        self._status_wake.set()

    def status_of(self, loop: ProbeLoop) -> dict[str, Any]:
        d = loop.denoiser
        ratio = d.success_ratio
        return {
            "state": d.state,
            "consecutiveFailures": d.consecutive_failures,
            "successRatio": round(ratio, 4) if ratio is not None else None,
            "runs": d.runs,
            "lastRun": _iso(loop.last_run),
            "lastTransition": _iso(loop.last_transition),
            "message": loop.last_message[:1000],
            "probedBy": self.identity,
            "error": None,
        }

    async def write_status_of(self, key: str) -> None:
        loop = self.loops.get(key)
        if loop is None:
            return
        ns, name = key.split("/", 1)
        path = resource_path(API_VERSION, PLURAL, ns, name, "status")
        await self.kube.patch(path, {"status": self.status_of(loop)})

    async def _status_writer(self) -> None:
        """Writes a config's status after each transition, and every status interval for all."""
        period = self.settings.status_interval_seconds
        last_all = asyncio.get_running_loop().time()
        while True:
            self._status_wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._status_wake.wait(), period)
            now = asyncio.get_running_loop().time()
            if now - last_all >= period:
                self._dirty.update(self.loops)
                last_all = now
            keys, self._dirty = self._dirty, set()
            for key in keys:
                try:
                    await asyncio.wait_for(self.write_status_of(key), 5)
                except NotFoundError:
                    pass  # deleted meanwhile
                except (KubeError, TimeoutError) as exc:
                    log.debug("probe config %s: status not written: %s", key, exc)
                    self._dirty.add(key)  # try again next time
