"""Dispatching: pending runs are claimed, executed by a runner, and ended when the runner says how.

Claiming (:mod:`kubeprobe.center.store.dispatching`) is a conditional update, so several center
replicas sharing one database never execute a run twice. At dispatch the run gets a fresh report
token (only its hash is stored); the case reports with it to ``/api/v1/runs/{id}/report``.
When the runner returns, a run the case already reported keeps its result (logs and events are
added); otherwise the runner's view ends it: ``timed_out``, ``error`` with the reason (an exit
without a report is an error too: KubeProbe could not get a result, the cluster was not proven
broken).

In an HA center (a :class:`~kubeprobe.center.services.leases.LeaseKeeper` given), the dispatcher
claims only runs of the clusters this replica holds (fenced in SQL), records itself as each run's
owner, reconciles at start only its own runs, adopts after every lease round the runs in flight
that a dead replica left on its clusters, and abandons its runs in flight the moment its leases
are lost (a local run's process is killed, a pod run is left to its new owner, and no end is
written from here: the new owner decides).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.store import dispatching
from kubeprobe.center.store.common import aware, utcnow
from kubeprobe.center.store.database import Store
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.config import parse_kubeconfig
from kubeprobe.kube.errors import KubeError
from kubeprobe.model import CaseKind, CaseSpec
from kubeprobe.runners.base import RunEnd, Runner, RunnerError, RunRequest
from kubeprobe.runners.pod import PodRunner, sweep

log = logging.getLogger(__name__)
FINISH_BATCH = 500


class Ownership(Protocol):
    """What the dispatcher needs of a lease keeper."""

    replica: str
    clusters: frozenset[int]

    def on_lost(self, callback: Any) -> None: ...

    def on_round(self, callback: Any) -> None: ...


@dataclass(frozen=True)
class Claimed:
    request: RunRequest
    runner: str  # "local", "pod", or "adopt" (a pod run started by an earlier center)


class Dispatcher:
    """Claims pending runs and executes them, at most ``max_in_flight`` at once."""

    def __init__(
        self,
        store: Store,
        box: SecretBox,
        *,
        report_base_url: str,
        local: Runner,
        pod: Runner | None = None,
        poll_seconds: float = 0.2,
        max_in_flight: int = 16,
        runner_mode: str = "auto",
        sweep_seconds: float = 300.0,
        ownership: Ownership | None = None,
    ) -> None:
        """``runner_mode``: ``auto`` runs image cases as pods and the rest locally; ``local`` runs
        every case here (an image case's command as a local process: how the sandbox demo and the
        tests run container cases, since sandbox pods never run containers)."""
        self.store = store
        self.box = box
        self.base = report_base_url.rstrip("/")
        self.local = local
        self.pod = pod or PodRunner()
        self.poll_seconds = poll_seconds
        self.max_in_flight = max_in_flight
        self.runner_mode = runner_mode
        self._tasks: set[asyncio.Task[None]] = set()
        self.sweep_seconds = sweep_seconds
        self._pod_clusters: dict[str, str] = {}  # cluster → kubeconfig, where pod runs went
        self._credentials: dict[int, tuple[dt.datetime, str]] = {}
        self._ends: asyncio.Queue[tuple[str, RunEnd]] = asyncio.Queue()
        self._finisher: asyncio.Task[None] | None = None
        self.wake = asyncio.Event()
        self.ownership = ownership
        self.adopted = 0
        self._abandoned: set[asyncio.Task[None]] = set()
        if ownership is not None:
            ownership.on_lost(self.abandon)
            ownership.on_round(self.adopt_orphans)

    @property
    def owner(self) -> str | None:
        """The replica runs are claimed for (None: no leases, any pending run is claimed)."""
        return self.ownership.replica if self.ownership is not None else None

    def abandon(self) -> None:
        """The leases are lost: stop every run in flight here without writing its end."""
        for task in list(self._tasks):
            self._abandoned.add(task)
            task.cancel()
        if self._tasks:
            log.warning(
                "abandoned %d runs in flight: their clusters' new owners adopt them", len(self._tasks)
            )

    async def adopt_orphans(self) -> int:
        """Take over the runs in flight that dead replicas left on this replica's clusters."""
        if self.owner is None:
            return 0
        rows = await dispatching.adopt_orphans(self.store, self.owner)
        if rows:
            log.warning("adopting %d runs in flight left by a dead replica", len(rows))
            await self._reconcile([self._claimed(row, token) for row, token in rows], "its replica died")
            self.adopted += len(rows)
        return len(rows)

    async def run_forever(self) -> None:
        try:
            await self.reconcile()
        except Exception:
            log.exception("reconciling in-flight runs failed; continuing")
        sweeper = asyncio.create_task(self.sweep_forever(), name="sweeper")
        self._finisher = asyncio.create_task(self._finish_forever(), name="finisher")
        try:
            while True:
                free = self.max_in_flight - len(self._tasks)
                try:
                    batch = await self.claim(free) if free > 0 else []
                except Exception:  # the database may be away: keep the loop alive, retry
                    log.exception("claiming pending runs failed; retrying")
                    batch = []
                    await asyncio.sleep(2)
                self.launch(batch)
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), self.poll_seconds)
        finally:
            sweeper.cancel()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            with contextlib.suppress(TimeoutError):  # write the ends still queued
                await asyncio.wait_for(self._ends.join(), 10)
            self._finisher.cancel()
            await asyncio.gather(self._finisher, return_exceptions=True)

    @property
    def in_flight(self) -> int:
        """Runs this dispatcher is executing (or following) now."""
        return len(self._tasks)

    async def sweep_forever(self) -> None:
        """Every ``sweep_seconds``, remove what crashed runs left in the clusters pod runs went to
        (anchors past their deadline, and so their pods; see :func:`kubeprobe.runners.pod.sweep`)."""
        while True:
            await asyncio.sleep(self.sweep_seconds)
            for cluster, kubeconfig in list(self._pod_clusters.items()):
                try:
                    conn = parse_kubeconfig(kubeconfig, source=f"cluster {cluster} kubeconfig")
                    async with KubeClient(conn, timeout=30) as kube:
                        cleaned = await sweep(kube)
                except KubeError as exc:
                    log.warning("cluster %s: sweeping leftovers failed: %s", cluster, exc)
                    continue
                except Exception:  # one cluster's surprise never stops the sweep of the others
                    log.exception("cluster %s: sweeping leftovers failed", cluster)
                    continue
                if cleaned:
                    log.info("cluster %s: swept leftovers of runs %s", cluster, ", ".join(cleaned[:20]))

    async def reconcile(self) -> int:
        """At start: runs that a stopped center left ``dispatched`` or ``running``.

        A pod run whose pod still exists and whose deadline has not passed is adopted: followed
        to its end as if this center had started it (the case's report is still accepted, its
        token is in the pod). Every other run ends with a message saying why: ``timed_out`` when
        past its deadline, else ``error`` (a local run's process died with the old center; a pod
        run's pod is gone or its cluster cannot be asked). Returns how many runs were ended.
        """
        rows = await dispatching.in_flight(self.store, self.owner)
        return await self._reconcile(
            [self._claimed(row, token) for row, token in rows], "the center restarted"
        )

    async def _reconcile(self, found: list[Claimed], why: str) -> int:
        now = utcnow()
        ended: list[tuple[str, RunEnd]] = []
        for claimed in found:
            req = claimed.request
            if claimed.runner == "pod":
                self._pod_clusters[req.cluster] = req.kubeconfig
            if req.deadline <= now:
                ended.append(
                    (
                        req.run_id,
                        RunEnd("timed_out", f"{why} and the run's deadline had passed"),
                    )
                )
                continue
            if claimed.runner != "pod" or not isinstance(self.pod, PodRunner):
                ended.append(
                    (
                        req.run_id,
                        RunEnd(
                            "error",
                            f"{why} while this run was in flight; no result was received",
                        ),
                    )
                )
                continue
            try:
                alive = await self.pod.has_pod(req)
            except RunnerError as exc:
                reason = f"{why} and the center could not look for the run's pod: {exc}"
                ended.append((req.run_id, RunEnd("error", reason)))
                continue
            if not alive:
                reason = f"{why} and the run's pod no longer exists"
                ended.append((req.run_id, RunEnd("error", reason)))
                continue
            log.info(
                "run %s case %s cluster %s: adopted its pod (%s)",
                req.run_id,
                req.case.name,
                req.cluster,
                why,
            )
            task = asyncio.create_task(self.execute(Claimed(req, "adopt")))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        for run_id, end in ended:
            await self.finish(run_id, end)
        if ended:
            log.warning("ended %d in-flight runs (%s)", len(ended), why)
        return len(ended)

    async def claim(self, limit: int) -> list[Claimed]:
        """Take up to ``limit`` pending runs, oldest first (see :func:`dispatching.claim`)."""
        if self.ownership is not None and not self.ownership.clusters:
            return []
        return [
            self._claimed(row, token)
            for row, token in await dispatching.claim_pending(self.store, limit, self.owner)
        ]

    @property
    def room(self) -> int:
        """How many more runs this dispatcher would execute now."""
        return max(0, self.max_in_flight - len(self._tasks))

    def launch_claimed(self, rows: Sequence[dispatching.ClaimRow]) -> None:
        """Execute runs claimed elsewhere (by the scheduler, in the transaction that created them)."""
        self.launch([self._claimed(row, token) for row, token in rows])

    def launch(self, batch: Sequence[Claimed]) -> None:
        for claimed in batch:
            task = asyncio.create_task(self.execute(claimed))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _kubeconfig(self, cluster_id: int, updated: dt.datetime, credentials: bytes) -> str:
        """Decrypted once per cluster and credentials version."""
        cached = self._credentials.get(cluster_id)
        if cached is None or cached[0] != updated:
            cached = (updated, self.box.decrypt(credentials))
            self._credentials[cluster_id] = cached
        return cached[1]

    def _claimed(self, row: Any, token: str) -> Claimed:
        spec = CaseSpec(
            name=row.case_name,
            template=row.template_name,
            kind=CaseKind(row.kind),
            timeout_seconds=row.timeout_seconds,
            params=dict(row.params or {}),
            entry_point=row.entry_point,
            image=row.image,
            command=tuple(row.command or ()),
            rbac_rules=tuple(row.rbac_rules or ()),
        )
        request = RunRequest(
            run_id=row.run_id,
            case=spec,
            cluster=row.cluster_name,
            kubeconfig=self._kubeconfig(row.cluster_id, row.cluster_updated, row.credentials),
            report_url=f"{self.base}/api/v1/runs/{row.run_id}/report",
            report_token=token,
            deadline=aware(row.deadline),
            kh_report_url=f"{self.base}/api/v1/kuberhealthy/report",
        )
        image_case = bool(row.image and not row.entry_point)
        runner = "pod" if image_case and self.runner_mode == "auto" else "local"
        return Claimed(request, runner)

    async def execute(self, claimed: Claimed) -> None:
        req = claimed.request
        try:
            if claimed.runner == "adopt" and isinstance(self.pod, PodRunner):
                end = await self.pod.adopt(req) or RunEnd(
                    "error", "the run's pod disappeared before it ended"
                )
            else:
                if claimed.runner == "pod":
                    self._pod_clusters[req.cluster] = req.kubeconfig
                end = await (self.pod if claimed.runner == "pod" else self.local).run(req)
        except RunnerError as exc:
            end = RunEnd("error", str(exc))
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current in self._abandoned:  # leases lost: the new owner decides
                self._abandoned.discard(current)
                raise
            if claimed.runner == "local":  # its process dies with this center
                await asyncio.shield(self.finish(req.run_id, RunEnd("cancelled", "the center stopped")))
            # A pod keeps running without us: the next center adopts it (see reconcile).
            raise
        except Exception as exc:  # a runner bug must not kill the dispatcher loop
            log.exception("run %s case %s cluster %s: runner failed", req.run_id, req.case.name, req.cluster)
            end = RunEnd("error", f"runner failed: {type(exc).__name__}: {exc}")
        if self._finisher is None or self._finisher.done():
            await self._record([(req.run_id, end)])
            return
        self._ends.put_nowait((req.run_id, end))  # written by the finisher; the slot is free now

    async def _record(self, ends: list[tuple[str, RunEnd]]) -> None:
        for attempt in range(12):  # the database may be away for a while: the end must not be lost
            try:
                await self.finish_many(ends)
                return
            except Exception:
                ids = ", ".join(run_id for run_id, _ in ends[:5])
                log.exception("runs %s: recording their end failed (attempt %d)", ids, attempt + 1)
                await asyncio.sleep(min(2**attempt, 30))

    async def _finish_forever(self) -> None:
        """Writes the ends of runs in batches: whatever ended while the last batch was written goes
        into one transaction (hundreds of runs ending together cost one commit, not hundreds)."""
        while True:
            batch = [await self._ends.get()]
            while not self._ends.empty() and len(batch) < FINISH_BATCH:
                batch.append(self._ends.get_nowait())
            try:
                await self._record(batch)
            finally:
                for _ in batch:
                    self._ends.task_done()

    async def finish(self, run_id: str, end: RunEnd) -> None:
        """End the run from the runner's view unless the case already reported."""
        await self.finish_many([(run_id, end)])

    async def finish_many(self, ends: list[tuple[str, RunEnd]]) -> None:
        """End runs from the runner's view (one transaction); a run the case already reported keeps
        its result and gets only the runner's logs and events."""
        for run_id, state_name, reason in await dispatching.finish_runs(self.store, ends, self.owner):
            log.info("run %s ended as %s: %s", run_id, state_name, reason)
