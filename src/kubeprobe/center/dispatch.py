"""Dispatching: pending runs are claimed, executed by a runner, and ended when the runner says how.

Claiming is a conditional update (``pending → dispatched`` only if still pending), so several
center replicas sharing one database never execute a run twice. At dispatch the run gets a fresh
report token (only its hash is stored); the case reports with it to ``/api/v1/runs/{id}/report``.
When the runner returns, a run the case already reported keeps its result (logs and events are
added); otherwise the runner's view ends it: ``timed_out``, ``error`` with the reason (an exit
without a report is an error too: KubeProbe could not get a result, the cluster was not proven
broken).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from kubeprobe.center.auth import REPORT_PREFIX, hash_token, new_token
from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.store.common import utcnow
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.status import update_status
from kubeprobe.center.store.tables import Case, CaseTemplate, Cluster, Run
from kubeprobe.model import CaseKind, CaseSpec, RunState
from kubeprobe.runners.base import RunEnd, Runner, RunnerError, RunRequest
from kubeprobe.runners.pod import PodRunner

log = logging.getLogger(__name__)
IN_FLIGHT = (str(RunState.DISPATCHED), str(RunState.RUNNING))


@dataclass(frozen=True)
class Claimed:
    request: RunRequest
    runner: str  # "local" or "pod"


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
        self.wake = asyncio.Event()

    async def run_forever(self) -> None:
        try:
            await self.reconcile()
        except Exception:
            log.exception("reconciling in-flight runs failed; continuing")
        try:
            while True:
                free = self.max_in_flight - len(self._tasks)
                try:
                    batch = await self.claim(free) if free > 0 else []
                except Exception:  # the database may be away: keep the loop alive, retry
                    log.exception("claiming pending runs failed; retrying")
                    batch = []
                    await asyncio.sleep(2)
                if batch:
                    for claimed in batch:
                        task = asyncio.create_task(self.execute(claimed))
                        self._tasks.add(task)
                        task.add_done_callback(self._tasks.discard)
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), self.poll_seconds)
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def reconcile(self) -> int:
        """At start: runs left dispatched or running by a center that stopped are ended as ``error``.

        Their pods (pod runner) are removed by the sweeper once past their deadline.
        """
        now = utcnow()
        async with self.store.transaction() as session:
            rows = (await session.execute(select(Run).where(Run.state.in_(IN_FLIGHT)))).scalars().all()
            for run in rows:
                run.state = str(RunState.ERROR)
                run.finished = now
                run.messages = ["the center restarted while this run was in flight; no result was received"]
            await update_status(session, [(r.cluster_id, r.case_id, r.id, r.state, now, None) for r in rows])
        if rows:
            log.warning("reconciled %d in-flight runs as error after a restart", len(rows))
        return len(rows)

    async def claim(self, limit: int) -> list[Claimed]:
        claimed: list[Claimed] = []
        async with self.store.transaction() as session:
            query = (
                select(Run, Case, CaseTemplate, Cluster)
                .join(Case, Case.id == Run.case_id)
                .join(CaseTemplate, CaseTemplate.id == Case.template_id)
                .join(Cluster, Cluster.id == Run.cluster_id)
                .where(Run.state == str(RunState.PENDING))
                .order_by(Run.created)
                .limit(limit)
            )
            for run, case, template, cluster in (await session.execute(query)).all():
                token = new_token(REPORT_PREFIX)
                won = await session.execute(
                    update(Run)
                    .where(Run.id == run.id, Run.state == str(RunState.PENDING))
                    .values(
                        state=str(RunState.DISPATCHED), started=utcnow(), report_token_hash=hash_token(token)
                    )
                )
                if won.rowcount != 1:  # type: ignore[attr-defined]
                    continue  # another replica took it
                claimed.append(self._request(run, case, template, cluster, token))
        return claimed

    def _request(self, run: Run, case: Case, template: CaseTemplate, cluster: Cluster, token: str) -> Claimed:
        spec = CaseSpec(
            name=case.name,
            template=template.name,
            kind=CaseKind(template.kind),
            timeout_seconds=template.timeout_seconds,
            params=dict(case.params or {}),
            entry_point=template.entry_point,
            image=template.image,
            command=tuple(template.command or ()),
        )
        request = RunRequest(
            run_id=run.id,
            case=spec,
            cluster=cluster.name,
            kubeconfig=self.box.decrypt(cluster.credentials),
            report_url=f"{self.base}/api/v1/runs/{run.id}/report",
            report_token=token,
            deadline=_aware(run.deadline),
            kh_report_url=f"{self.base}/api/v1/kuberhealthy/report",
        )
        image_case = bool(template.image and not template.entry_point)
        runner = "pod" if image_case and self.runner_mode == "auto" else "local"
        return Claimed(request, runner)

    async def execute(self, claimed: Claimed) -> None:
        req = claimed.request
        runner = self.pod if claimed.runner == "pod" else self.local
        try:
            end = await runner.run(req)
        except RunnerError as exc:
            end = RunEnd("error", str(exc))
        except asyncio.CancelledError:
            await asyncio.shield(self.finish(req.run_id, RunEnd("cancelled", "the center stopped")))
            raise
        except Exception as exc:  # a runner bug must not kill the dispatcher loop
            log.exception("run %s case %s cluster %s: runner failed", req.run_id, req.case.name, req.cluster)
            end = RunEnd("error", f"runner failed: {type(exc).__name__}: {exc}")
        for attempt in range(12):  # the database may be away for a while: the end must not be lost
            try:
                await self.finish(req.run_id, end)
                return
            except Exception:
                log.exception("run %s: recording its end failed (attempt %d)", req.run_id, attempt + 1)
                await asyncio.sleep(min(2**attempt, 30))

    async def finish(self, run_id: str, end: RunEnd) -> None:
        """End the run from the runner's view unless the case already reported."""
        now = utcnow()
        async with self.store.transaction() as session:
            run = (
                await session.execute(select(Run).where(Run.id == run_id).with_for_update())
            ).scalar_one_or_none()
            if run is None:
                return
            details: dict[str, Any] = dict(run.details or {})
            details["runner"] = {
                "end": end.state,
                "reason": end.reason,
                "exit_code": end.exit_code,
                "logs": end.logs[-16_000:],
                "events": end.events[-50:],
            }
            run.details = details
            if RunState(run.state).terminal:
                return
            state = {"timed_out": RunState.TIMED_OUT, "cancelled": RunState.CANCELLED}.get(
                end.state, RunState.ERROR
            )
            reason = (
                end.reason if end.state != "exited" else f"the case ended ({end.reason}) without reporting"
            )
            run.state = str(state)
            run.finished = now
            run.duration_ms = (now - _aware(run.started or run.created)).total_seconds() * 1000
            run.messages = [reason]
            await update_status(
                session, [(run.cluster_id, run.case_id, run.id, run.state, now, run.duration_ms)]
            )
        log.info("run %s ended as %s: %s", run_id, state, reason)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
