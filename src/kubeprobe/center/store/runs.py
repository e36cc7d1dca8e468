"""Runs: triggering one by hand, listing (keyset-paginated, filtered), showing, and a case's own report.

A run gets a deadline and a report token valid for it alone. A report from another run's token is
403, one after the deadline 410, and a second report for a finished run changes nothing: exactly
one report counts even when several race, because it is applied by one conditional UPDATE (the run
still unreported and unfinished) whose row count says whether it won.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.auth import REPORT_PREFIX, Principal, hash_token, new_token
from kubeprobe.center.errors import GoneError, InvalidInputError, NotFoundError, PermissionDeniedError
from kubeprobe.center.schemas.runs import (
    FindingOut,
    ReportIn,
    RunCreate,
    RunCreated,
    RunDetail,
    RunOut,
    StepOut,
)
from kubeprobe.center.store.clusters import cluster_ids_of_group
from kubeprobe.center.store.common import (
    audit,
    by_name,
    check_limit,
    decode_cursor,
    encode_cursor,
    lock_run_parents,
    utcnow,
)
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.status import update_status
from kubeprobe.center.store.tables import (
    Binding,
    Case,
    CaseTemplate,
    Cluster,
    ClusterGroup,
    Run,
    RunFinding,
)
from kubeprobe.model import RunState, Trigger
from kubeprobe.model.runs import UNFINISHED_STATES


def _run_query() -> Select[Run, str, str, str]:
    return (
        select(Run, Case.name, Cluster.name, Binding.name)
        .join(Case, Case.id == Run.case_id)
        .join(Cluster, Cluster.id == Run.cluster_id)
        .outerjoin(Binding, Binding.id == Run.binding_id)
    )


#: What a run list shows, as plain columns: no ORM objects, no metrics or details to decode.
_LIST_COLUMNS = (
    Run.id,
    Case.name.label("case"),
    Cluster.name.label("cluster"),
    Binding.name.label("binding"),
    Run.trigger,
    Run.state,
    Run.created,
    Run.deadline,
    Run.started,
    Run.finished,
    Run.duration_ms,
    Run.messages,
    Run.root_cause,
)


def _out(run: Run, case: str, cluster: str, binding: str | None) -> dict[str, Any]:
    return {
        "id": run.id,
        "case": case,
        "cluster": cluster,
        "binding": binding,
        "trigger": run.trigger,
        "state": run.state,
        "created": run.created,
        "deadline": run.deadline,
        "started": run.started,
        "finished": run.finished,
        "duration_ms": run.duration_ms,
        "messages": run.messages,
        "root_cause": run.root_cause,
    }


async def create_run(session: AsyncSession, body: RunCreate, who: Principal) -> RunCreated:
    """A pending manual run with its deadline and report token (the runner dispatches it)."""
    await lock_run_parents(session)
    case = await by_name(session, Case, body.case, "case", field="case")
    cluster = await by_name(session, Cluster, body.cluster, "cluster", field="cluster")
    template = await session.get_one(CaseTemplate, case.template_id)
    now = utcnow()
    token = new_token(REPORT_PREFIX)
    run = Run(
        id=uuid.uuid4().hex,
        case_id=case.id,
        cluster_id=cluster.id,
        trigger="manual",
        state=str(RunState.PENDING),
        created=now,
        deadline=now + dt.timedelta(seconds=body.timeout_seconds or template.timeout_seconds),
        messages=[],
        metrics={},
        details={},
        report_token_hash=hash_token(token),
    )
    session.add(run)
    await session.flush()
    audit(session, who, "trigger", "run", run.id, {"case": case.name, "cluster": cluster.name})
    return RunCreated(report_token=token, **_out(run, case.name, cluster.name, None))


async def list_runs(
    session: AsyncSession,
    *,
    limit: int,
    cursor: str | None = None,
    cluster: str | None = None,
    group: str | None = None,
    case: str | None = None,
    state: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> tuple[list[RunOut], str | None]:
    """Newest first; `cursor` continues after the last run of the previous page."""
    query = (
        select(*_LIST_COLUMNS)
        .join(Case, Case.id == Run.case_id)
        .join(Cluster, Cluster.id == Run.cluster_id)
        .outerjoin(Binding, Binding.id == Run.binding_id)
    )
    if cluster:
        query = query.where(
            Run.cluster_id == (await by_name(session, Cluster, cluster, "cluster", field="cluster")).id
        )
    if group:
        grp = await by_name(session, ClusterGroup, group, "cluster group", field="group")
        query = query.where(Run.cluster_id.in_(list(await cluster_ids_of_group(session, grp))))
    if case:
        query = query.where(Run.case_id == (await by_name(session, Case, case, "case", field="case")).id)
    if state:
        query = query.where(Run.state == state)
    if since:
        query = query.where(Run.created >= since)
    if until:
        query = query.where(Run.created < until)
    if cursor:
        created, run_id = _decode_run_cursor(cursor)
        # `created <=` is the index range on both stores (a row-value comparison is not: SQLite
        # scans it from the far end, PostgreSQL misestimates it and picks another index); the
        # runs created in the cursor's very instant are sorted out by id
        query = query.where(Run.created <= created, or_(Run.created < created, Run.id < run_id))
    query = query.order_by(Run.created.desc(), Run.id.desc()).limit(check_limit(limit) + 1)
    rows = (await session.execute(query)).mappings().all()
    page = [RunOut.model_validate(row) for row in rows[:limit]]
    more = len(rows) > limit
    nxt = encode_cursor(page[-1].created.isoformat(), page[-1].id) if more and page else None
    return page, nxt


def _decode_run_cursor(cursor: str) -> tuple[dt.datetime, str]:
    created_s, run_id = decode_cursor(cursor, 2)
    try:
        created = dt.datetime.fromisoformat(created_s)
    except ValueError:
        created = None
    if created is None or created.tzinfo is None:
        raise InvalidInputError(
            "cursor: not a cursor this API returned; pass 'next' unchanged", field="cursor"
        )
    return created, run_id


async def get_run(session: AsyncSession, run_id: str) -> RunDetail:
    row = (await session.execute(_run_query().where(Run.id == run_id))).first()
    if row is None:
        raise NotFoundError(f"no run with id {run_id!r}")
    run = row[0]
    out = _out(run, row[1], row[2], row[3])
    findings = (
        await session.execute(select(RunFinding).where(RunFinding.run_id == run_id).order_by(RunFinding.id))
    ).scalars()
    return RunDetail(
        **out,
        metrics=run.metrics,
        details=run.details,
        steps=[StepOut.model_validate(s) for s in run.steps or ()],
        findings=[
            FindingOut(
                check_id=f.check_id,
                severity=f.severity,
                object=f.object,
                message=f.message,
                hint=f.hint,
                details=f.details,
            )
            for f in findings
        ],
    )


async def report_run(
    session: AsyncSession, run_id: str, body: ReportIn, who: Principal
) -> tuple[bool, RunDetail]:
    """Apply a case's report to its run. Returns (accepted, run); a second report is not accepted."""
    if who.run_id != run_id:
        raise PermissionDeniedError("this report token belongs to another run; use the run's own token")
    run = (await session.execute(select(Run).where(Run.id == run_id))).scalar_one_or_none()
    if run is None:
        raise NotFoundError(f"no run with id {run_id!r}")
    if run.reported_at is not None or RunState(run.state).terminal:
        return False, await get_run(session, run_id)
    now = utcnow()
    if now > run.deadline:
        raise GoneError(f"run {run_id} passed its deadline {run.deadline.isoformat()}; the report is refused")
    state, started = str(RunState.SUCCEEDED if body.ok else RunState.FAILED), run.started or run.created
    # One conditional UPDATE decides which report counts, on both stores: the row read above may
    # be stale (SQLite takes no row lock), so the state it showed is checked again by the database.
    claimed = await session.execute(
        update(Run)
        .where(
            Run.id == run_id, Run.reported_at.is_(None), Run.state.in_([str(s) for s in UNFINISHED_STATES])
        )
        .values(
            state=state,
            started=started,
            finished=now,
            reported_at=now,
            duration_ms=(now - started).total_seconds() * 1000,
            messages=list(body.messages),
            metrics=dict(body.metrics),
            steps=[s.model_dump(include={"name", "ok", "duration_ms", "error"}) for s in body.steps],
        )
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return False, await get_run(session, run_id)
    await session.refresh(run)
    session.add_all(
        RunFinding(
            run_id=run_id,
            check_id=f.check_id,
            severity=str(f.severity),
            object=f.object.model_dump() if f.object else None,
            message=f.message,
            hint=f.hint,
            details=f.details,
        )
        for f in body.findings
    )
    await session.flush()
    await update_status(session, [(run.cluster_id, run.case_id, run.id, run.state, now, run.duration_ms)])
    audit(session, who, "report", "run", run_id, {"state": run.state})
    return True, await get_run(session, run_id)


async def event_runs_since(store: Store, cluster_id: int, case_ids: set[int], since: dt.datetime) -> set[int]:
    """Which of these cases had an event-triggered run on the cluster created since ``since``."""
    async with store.transaction() as session:
        rows = await session.execute(
            select(Run.case_id).where(
                Run.cluster_id == cluster_id,
                Run.case_id.in_(case_ids),
                Run.trigger == str(Trigger.EVENT),
                Run.created >= since,
            )
        )
        return set(rows.scalars())
