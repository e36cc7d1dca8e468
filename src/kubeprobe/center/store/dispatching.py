"""Dispatching in the store: claiming pending runs, the runs left in flight, and ending runs from
the runner's view.

Claiming is a conditional update (``pending → dispatched`` only if still pending), so several
center replicas sharing one database never execute a run twice. At dispatch the run gets a fresh
report token (only its hash is stored). A run the case already reported keeps its result when the
runner ends it (the runner's logs and events are added to its details).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.auth import REPORT_PREFIX, hash_token, new_token
from kubeprobe.center.store.common import aware, utcnow
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.status import update_status
from kubeprobe.center.store.tables import Case, CaseTemplate, Cluster, Run, table_of
from kubeprobe.model import RunState
from kubeprobe.model.runs import IN_FLIGHT_STATES, state_values
from kubeprobe.runners.base import RunEnd

#: What a run request needs, read as plain columns (no ORM objects on the hot path).
CLAIM_COLUMNS = (
    Run.id.label("run_id"),
    Run.deadline,
    Case.name.label("case_name"),
    Case.params,
    CaseTemplate.name.label("template_name"),
    CaseTemplate.kind,
    CaseTemplate.timeout_seconds,
    CaseTemplate.entry_point,
    CaseTemplate.image,
    CaseTemplate.command,
    CaseTemplate.rbac_rules,
    Cluster.id.label("cluster_id"),
    Cluster.name.label("cluster_name"),
    Cluster.updated.label("cluster_updated"),
    Cluster.credentials,
)
#: A claimed run: its CLAIM_COLUMNS row and its new report token (empty for a run in flight).
ClaimRow = tuple[Any, str]


def _with_parents() -> Any:
    return (
        select(*CLAIM_COLUMNS)
        .join(Case, Case.id == Run.case_id)
        .join(CaseTemplate, CaseTemplate.id == Case.template_id)
        .join(Cluster, Cluster.id == Run.cluster_id)
    )


async def in_flight(store: Store) -> list[ClaimRow]:
    """Runs left ``dispatched`` or ``running`` (by a center that stopped), with what a request needs."""
    async with store.transaction() as session:
        rows = (
            await session.execute(_with_parents().where(Run.state.in_(state_values(IN_FLIGHT_STATES))))
        ).all()
    return [(row, "") for row in rows]


async def claim_pending(store: Store, limit: int) -> list[ClaimRow]:
    """Take up to ``limit`` pending runs, oldest first."""
    if limit <= 0:
        return []
    async with store.transaction() as session:
        return await claim(session, None, limit)


async def claim(session: AsyncSession, run_ids: Sequence[str] | None, limit: int) -> list[ClaimRow]:
    """In an open transaction: one read and one conditional bulk update (``pending → dispatched``
    only where still pending, each run with a fresh token hash); the rows it returns are ours,
    whatever another replica took meanwhile. ``run_ids``: only these runs (else any pending)."""
    query = _with_parents().where(Run.state == str(RunState.PENDING))
    if run_ids is not None:
        query = query.where(Run.id.in_(list(run_ids)))
    rows = (await session.execute(query.order_by(Run.created).limit(limit))).all()
    if not rows:
        return []
    tokens = {row.run_id: new_token(REPORT_PREFIX) for row in rows}
    hashes = {run_id: hash_token(token) for run_id, token in tokens.items()}
    runs = table_of(Run)  # Core, not the ORM's bulk path: a few times cheaper per statement
    won = (
        await session.execute(
            update(runs)
            .where(runs.c.id.in_(list(tokens)), runs.c.state == str(RunState.PENDING))
            .values(
                state=str(RunState.DISPATCHED),
                started=utcnow(),
                report_token_hash=case(hashes, value=runs.c.id),
            )
            .returning(runs.c.id)
        )
    ).scalars()
    ours = set(won)
    return [(row, tokens[row.run_id]) for row in rows if row.run_id in ours]


async def finish_runs(store: Store, ends: Sequence[tuple[str, RunEnd]]) -> list[tuple[str, str, str]]:
    """End runs from the runner's view (one transaction); a run the case already reported keeps
    its result and gets only the runner's logs and events. Returns (run id, state, reason) of the
    runs this ended."""
    now = utcnow()
    by_id = dict(ends)
    ended: list[tuple[str, str, str]] = []
    async with store.transaction() as session:
        runs = (
            (
                await session.execute(
                    select(Run).where(Run.id.in_(sorted(by_id))).order_by(Run.id).with_for_update()
                )
            )
            .scalars()
            .all()
        )
        status = []
        for run in runs:
            end = by_id[run.id]
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
                continue
            state = {"timed_out": RunState.TIMED_OUT, "cancelled": RunState.CANCELLED}.get(
                end.state, RunState.ERROR
            )
            reason = (
                end.reason if end.state != "exited" else f"the case ended ({end.reason}) without reporting"
            )
            run.state = str(state)
            run.finished = now
            run.duration_ms = (now - aware(run.started or run.created)).total_seconds() * 1000
            run.messages = [reason]
            status.append((run.cluster_id, run.case_id, run.id, run.state, now, run.duration_ms))
            ended.append((run.id, str(state), reason))
        await update_status(session, status)
    return ended
