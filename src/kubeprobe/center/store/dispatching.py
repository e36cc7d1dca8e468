"""Dispatching in the store: claiming pending runs, the runs left in flight, and ending runs from
the runner's view.

Claiming is a conditional update (``pending → dispatched`` only if still pending), so several
center replicas sharing one database never execute a run twice. At dispatch the run gets a fresh
report token (only its hash is stored). A run the case already reported keeps its result when the
runner ends it (the runner's logs and events are added to its details).

With an ``owner`` (a replica of an HA center, see :mod:`kubeprobe.center.store.leases`), a claim
takes only runs of clusters whose lease that replica holds now (checked in the same statement: a
replica whose lease lapsed claims nothing) and records the replica in ``runs.owner``; only the
owner records a run's end, and a run whose owner died is adopted by its cluster's new owner.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.auth import REPORT_PREFIX, hash_token, new_token
from kubeprobe.center.store.common import aware, utcnow
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.leases import live_replicas, owned_clusters
from kubeprobe.center.store.status import update_status
from kubeprobe.center.store.tables import Case, CaseTemplate, Cluster, Run, table_of
from kubeprobe.model import RunState
from kubeprobe.model.runs import IN_FLIGHT_STATES, state_values
from kubeprobe.runners.base import RunEnd

log = logging.getLogger(__name__)

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


IN_FLIGHT = state_values(IN_FLIGHT_STATES)


async def in_flight(store: Store, owner: str | None = None) -> list[ClaimRow]:
    """Runs left ``dispatched`` or ``running`` (by a center that stopped), with what a request
    needs; with ``owner``, only that replica's."""
    query = _with_parents().where(Run.state.in_(IN_FLIGHT))
    if owner is not None:
        query = query.where(Run.owner == owner)
    async with store.transaction() as session:
        rows = (await session.execute(query)).all()
    return [(row, "") for row in rows]


async def adopt_orphans(store: Store, owner: str) -> list[ClaimRow]:
    """Runs in flight on clusters ``owner`` holds whose owning replica is dead (no live replica
    lease, or none recorded): made ``owner``'s in one conditional UPDATE, then read with what a
    request needs. Another replica adopting at the same time gets none of the same runs."""
    async with store.transaction() as session:
        runs = table_of(Run)
        adopted = (
            await session.execute(
                update(runs)
                .where(
                    runs.c.state.in_(IN_FLIGHT),
                    runs.c.cluster_id.in_(owned_clusters(session, owner)),
                    runs.c.owner.is_(None) | runs.c.owner.not_in(live_replicas(session)),
                )
                .values(owner=owner)
                .returning(runs.c.id)
            )
        ).scalars()
        ids = list(adopted)
        if not ids:
            return []
        rows = (await session.execute(_with_parents().where(Run.id.in_(ids)))).all()
    return [(row, "") for row in rows]


async def claim_pending(store: Store, limit: int, owner: str | None = None) -> list[ClaimRow]:
    """Take up to ``limit`` pending runs, oldest first (with ``owner``: of its clusters)."""
    if limit <= 0:
        return []
    async with store.transaction() as session:
        return await claim(session, None, limit, owner=owner)


async def claim(
    session: AsyncSession, run_ids: Sequence[str] | None, limit: int, *, owner: str | None = None
) -> list[ClaimRow]:
    """In an open transaction: one read and one conditional bulk update (``pending → dispatched``
    only where still pending, each run with a fresh token hash); the rows it returns are ours,
    whatever another replica took meanwhile. ``run_ids``: only these runs (else any pending).
    ``owner``: only runs of the clusters whose lease it holds, and it becomes their owner."""
    query = _with_parents().where(Run.state == str(RunState.PENDING))
    if run_ids is not None:
        query = query.where(Run.id.in_(list(run_ids)))
    if owner is not None:
        query = query.where(Run.cluster_id.in_(owned_clusters(session, owner)))
    rows = (await session.execute(query.order_by(Run.created).limit(limit))).all()
    if not rows:
        return []
    tokens = {row.run_id: new_token(REPORT_PREFIX) for row in rows}
    hashes = {run_id: hash_token(token) for run_id, token in tokens.items()}
    runs = table_of(Run)  # Core, not the ORM's bulk path: a few times cheaper per statement
    fenced = update(runs).where(runs.c.id.in_(list(tokens)), runs.c.state == str(RunState.PENDING))
    if owner is not None:  # checked again as it is written: the lease may have lapsed since the read
        fenced = fenced.where(runs.c.cluster_id.in_(owned_clusters(session, owner)))
    won = (
        await session.execute(
            fenced.values(
                state=str(RunState.DISPATCHED),
                started=utcnow(),
                report_token_hash=case(hashes, value=runs.c.id),
                owner=owner,
            ).returning(runs.c.id)
        )
    ).scalars()
    ours = set(won)
    return [(row, tokens[row.run_id]) for row in rows if row.run_id in ours]


async def finish_runs(
    store: Store, ends: Sequence[tuple[str, RunEnd]], owner: str | None = None
) -> list[tuple[str, str, str]]:
    """End runs from the runner's view (one transaction); a run the case already reported keeps
    its result and gets only the runner's logs and events. With ``owner``, a run another replica
    owns now (it adopted it when this one was taken for dead) is left alone and logged. Returns
    (run id, state, reason) of the runs this ended."""
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
            if owner is not None and run.owner != owner:
                log.warning(
                    "run %s belongs to replica %s now; this replica's end is dropped", run.id, run.owner
                )
                continue
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
