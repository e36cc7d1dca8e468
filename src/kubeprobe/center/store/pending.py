"""Creating pending runs for targets, under each binding's concurrency policy: ``forbid`` skips a
target whose previous run is unfinished, ``replace`` cancels that run, ``allow`` starts another.

A firing's run id is derived from (target, firing) by the scheduler, so replicas that share a
database compute the same runs and the primary key lets exactly one of them create each
(insert ... on conflict do nothing): no leader is needed. A scheduled firing's runs can be claimed
for dispatch in the transaction that creates them (see :func:`start_firings`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import CompoundSelect, null, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.auth import REPORT_PREFIX, hash_token, new_token
from kubeprobe.center.errors import ConflictError
from kubeprobe.center.store import dispatching
from kubeprobe.center.store.common import lock_run_parents, utcnow
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.tables import Case, CaseTemplate, Cluster, Run, table_of
from kubeprobe.center.triggers.targets import Target
from kubeprobe.model import RunState, Trigger
from kubeprobe.model.runs import UNFINISHED_STATES, state_values

UNFINISHED = state_values(UNFINISHED_STATES)


async def _unfinished(
    session: AsyncSession, case_ids: set[int], cluster_ids: set[int]
) -> tuple[dict[tuple[int, int], list[str]], set[int], set[int]]:
    """One round trip: the unfinished runs of the targets by (case, cluster), then which of their
    cases and clusters still exist (rows of the form (NULL, case, NULL) and (NULL, NULL, cluster))."""
    query: CompoundSelect[Any] = union_all(
        select(Run.id, Run.case_id, Run.cluster_id).where(
            Run.state.in_(UNFINISHED), Run.case_id.in_(case_ids), Run.cluster_id.in_(cluster_ids)
        ),
        select(null(), Case.id, null()).where(Case.id.in_(case_ids)),
        select(null(), null(), Cluster.id).where(Cluster.id.in_(cluster_ids)),
    )
    unfinished: dict[tuple[int, int], list[str]] = {}
    live_cases: set[int] = set()
    live_clusters: set[int] = set()
    for run_id, case_id, cluster_id in (await session.execute(query)).all():
        if run_id is not None:
            unfinished.setdefault((case_id, cluster_id), []).append(run_id)
        elif case_id is not None:
            live_cases.add(case_id)
        else:
            live_clusters.add(cluster_id)
    return unfinished, live_cases, live_clusters


async def _timeouts(session: AsyncSession, targets: Sequence[Target], case_ids: set[int]) -> dict[int, float]:
    """The templates' timeouts of the targets' cases (read only when a target has none of its own
    and its template's was not read with the bindings)."""
    timeouts: dict[int, float] = {t.case_id: t.case_timeout for t in targets if t.case_timeout is not None}
    if any(t.timeout is None and t.case_id not in timeouts for t in targets):
        rows = await session.execute(
            select(Case.id, CaseTemplate.timeout_seconds)
            .join(CaseTemplate, Case.template_id == CaseTemplate.id)
            .where(Case.id.in_(case_ids))
        )
        timeouts = {case_id: timeout for case_id, timeout in rows.all()}
    return timeouts


async def _create_pending(
    session: AsyncSession,
    targets: Sequence[Target],
    trigger: Trigger,
    now: dt.datetime,
    *,
    run_ids: Sequence[str | None] | None = None,
    details: dict[str, object] | None = None,
) -> list[str | None]:
    """In an open transaction: a pending run per target under its concurrency policy (None where
    skipped). One query for the unfinished runs of all targets (and whether their cases and clusters
    still exist), one for their timeouts, one bulk insert: a fan-out to hundreds of cases costs a
    few statements, not a few per case."""
    if not targets:
        return []
    case_ids = {t.case_id for t in targets}
    cluster_ids = {t.cluster_id for t in targets}
    await lock_run_parents(session)  # runs have no foreign keys: a target deleted meanwhile is skipped
    unfinished, live_cases, live_clusters = await _unfinished(session, case_ids, cluster_ids)
    timeouts = await _timeouts(session, targets, case_ids)
    replaced: list[str] = []
    rows_out: list[dict[str, Any]] = []
    created: list[str | None] = []
    ids = list(run_ids) if run_ids is not None else [None] * len(targets)
    for target, wanted_id in zip(targets, ids, strict=True):
        pair = (target.case_id, target.cluster_id)
        running = unfinished.get(pair, [])
        if target.case_id not in live_cases or target.cluster_id not in live_clusters:
            created.append(None)
            continue
        if running and target.concurrency == "forbid":
            created.append(None)
            continue
        if running and target.concurrency == "replace":
            replaced.extend(running)
        timeout = target.timeout if target.timeout is not None else timeouts[target.case_id]
        run_id = wanted_id or uuid.uuid4().hex
        rows_out.append(
            {
                "id": run_id,
                "case_id": target.case_id,
                "cluster_id": target.cluster_id,
                "binding_id": target.binding_id or None,
                "trigger": str(trigger),
                "state": str(RunState.PENDING),
                "created": now,
                "deadline": now + dt.timedelta(seconds=timeout),
                "messages": [],
                "metrics": {},
                "details": dict(details or {}),
                "report_token_hash": hash_token(new_token(REPORT_PREFIX)),
            }
        )
        unfinished[pair] = [run_id]  # a second target of the same case and cluster sees this one
        created.append(run_id)
    if replaced:
        await session.execute(
            update(Run)
            .where(Run.id.in_(replaced), Run.state.in_(UNFINISHED))
            .values(state=str(RunState.CANCELLED), finished=now, messages=["replaced by a newer run"])
        )
    if rows_out:  # a firing's run that a replica created already is skipped (its id is taken)
        dialect = session.get_bind().dialect.name
        runs = table_of(Run)  # Core, not the ORM's bulk path: a few times cheaper per statement
        bulk = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(runs)
        stmt = bulk.on_conflict_do_nothing(index_elements=[runs.c.id]).returning(runs.c.id)
        inserted = set((await session.execute(stmt, rows_out)).scalars())
        created = [run_id if run_id in inserted else None for run_id in created]
    return created


async def start_run(
    store: Store,
    target: Target,
    trigger: Trigger,
    *,
    run_id: str | None = None,
    details: dict[str, object] | None = None,
) -> str | None:
    """Create a pending run for ``target`` under its concurrency policy; None when skipped or taken."""
    try:
        async with store.transaction() as session:
            (created,) = await _create_pending(
                session, [target], trigger, utcnow(), run_ids=[run_id], details=details
            )
            return created
    except (IntegrityError, ConflictError):
        return None  # another replica created this firing's run


async def start_runs(
    store: Store,
    targets: Sequence[Target],
    trigger: Trigger,
    *,
    run_ids: Sequence[str | None] | None = None,
    details: dict[str, object] | None = None,
) -> list[str]:
    """Pending runs for many targets in one transaction (events, gates, watches and the scheduler's
    due firings fan out this way)."""
    async with store.transaction() as session:
        created = await _create_pending(session, targets, trigger, utcnow(), run_ids=run_ids, details=details)
    return [run_id for run_id in created if run_id]


async def start_firings(
    store: Store, firings: Sequence[tuple[str, Target]], *, claim: int = 0, owner: str | None = None
) -> tuple[list[str], list[dispatching.ClaimRow]]:
    """Scheduled firings ``(run id, target)`` in one transaction; ids another replica already
    created are skipped (insert ... on conflict do nothing). With ``claim`` > 0, up to that many of
    the new runs are claimed for dispatch in the same transaction (creating and claiming a scheduled
    run then costs one transaction and no wake-up; ``owner``: claimed as that replica's, fenced by
    its cluster leases). Returns the created run ids and the claims."""
    claimed: list[dispatching.ClaimRow] = []
    try:
        async with store.transaction() as session:
            created = await _create_pending(
                session,
                [t for _, t in firings],
                Trigger.SCHEDULE,
                utcnow(),
                run_ids=[run_id for run_id, _ in firings],
            )
            new = [run_id for run_id in created if run_id]
            if claim > 0 and new:
                claimed = await dispatching.claim(session, new[:claim], claim, owner=owner)
        return [run_id for run_id in created if run_id], claimed
    except ConflictError:
        started = [await start_run(store, t, Trigger.SCHEDULE, run_id=run_id) for run_id, t in firings]
        return [run_id for run_id in started if run_id], []
