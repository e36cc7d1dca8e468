"""Run analysis in the store: claiming finished runs, what analysis reads around a run, verdicts, feedback.

Claiming is a conditional insert into ``run_analysis`` (the run id is its key): of several center
replicas exactly one inserts, the others see the row and move on. A claim is a lease: one left
``claimed`` longer than the lease (the replica died) is taken over by a conditional update, at
most ``max_attempts`` times, after which the analysis is closed with its error.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, exists, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.auth import Principal
from kubeprobe.center.errors import InvalidInputError, NotFoundError
from kubeprobe.center.store.common import audit, utcnow
from kubeprobe.center.store.tables import (
    Binding,
    Case,
    CaseTemplate,
    Cluster,
    RcaFeedback,
    Run,
    RunAnalysis,
    table_of,
)
from kubeprobe.model import ROOT_CAUSES, RunState
from kubeprobe.model.runs import FAILING_STATES, state_values

#: Run states the analysis looks at (cancelled runs prove nothing either way).
#: Runs that analysis looks at: every ended run but a cancelled one.
ANALYSED = state_values(FAILING_STATES | {RunState.SUCCEEDED})
FAILING = state_values(FAILING_STATES)
CLAIMED, DONE = "claimed", "done"


@dataclass(frozen=True)
class RunContext:
    """One finished run with what analysing it needs (credentials stay encrypted here)."""

    run_id: str
    state: str
    cluster_id: int
    cluster: str
    cluster_labels: dict[str, str]
    credentials: bytes
    case_id: int
    case: str
    template: str
    entry_point: str | None
    image: str | None
    params: dict[str, Any]
    binding_severity: str
    created: dt.datetime
    finished: dt.datetime
    messages: tuple[str, ...]
    steps: tuple[tuple[str, bool, str | None], ...]  # (name, ok, error)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def failed_step(self) -> str:
        failed = [name for name, ok, _ in self.steps if not ok]
        return failed[-1] if failed else ""

    @property
    def pod_runner(self) -> bool:
        return bool(self.image and not self.entry_point)


async def claim(
    session: AsyncSession,
    replica: str,
    *,
    limit: int,
    lookback: dt.timedelta,
    lease: dt.timedelta,
    max_attempts: int = 3,
) -> list[str]:
    """Claim up to ``limit`` finished, unanalysed runs (newest analysis work first: stale claims)."""
    now = utcnow()
    won: list[str] = []
    stale = (
        await session.execute(
            select(RunAnalysis.run_id, RunAnalysis.claimed_at, RunAnalysis.attempts)
            .where(RunAnalysis.state == CLAIMED, RunAnalysis.claimed_at < now - lease)
            .limit(limit)
        )
    ).all()
    for run_id, claimed_at, attempts in stale:
        values: dict[str, Any] = {"claimed_by": replica, "claimed_at": now, "attempts": attempts + 1}
        if attempts >= max_attempts:
            values |= {"state": DONE, "finished": now, "outcome": "error"}
            values["error"] = f"analysis did not finish in {attempts} attempts (the replica stopped?)"
        result = await session.execute(
            update(RunAnalysis)
            .where(
                RunAnalysis.run_id == run_id,
                RunAnalysis.state == CLAIMED,
                RunAnalysis.claimed_at == claimed_at,
            )
            .values(**values)
        )
        if result.rowcount == 1 and attempts < max_attempts:  # type: ignore[attr-defined]
            won.append(run_id)
    candidates = (
        await session.execute(
            select(Run.id)
            .where(
                Run.state.in_(ANALYSED),
                Run.finished >= now - lookback,
                ~exists().where(RunAnalysis.run_id == Run.id),
            )
            .order_by(Run.finished)
            .limit(max(limit - len(won), 0))
        )
    ).scalars()
    rows = [
        {"run_id": rid, "state": CLAIMED, "claimed_by": replica, "claimed_at": now, "attempts": 1}
        for rid in candidates
    ]
    for row in rows:
        result = await session.execute(_insert_new(session, row))
        if result.rowcount == 1:  # type: ignore[attr-defined]
            won.append(str(row["run_id"]))
    return won


def _insert_new(session: AsyncSession, row: dict[str, Any]) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING: a row another replica inserted first is left alone."""
    table = table_of(RunAnalysis)
    values = {"reason": "", "evidence": {}, "verification": {}, **row}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).values(**values).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).values(**values).on_conflict_do_nothing()
    return insert(table).values(**values)


async def run_context(session: AsyncSession, run_id: str) -> RunContext | None:
    row = (
        await session.execute(
            select(Run, Case, CaseTemplate, Cluster, Binding.severity)
            .join(Case, Case.id == Run.case_id)
            .join(CaseTemplate, CaseTemplate.id == Case.template_id)
            .join(Cluster, Cluster.id == Run.cluster_id)
            .outerjoin(Binding, Binding.id == Run.binding_id)
            .where(Run.id == run_id)
        )
    ).first()
    if row is None:
        return None
    run, case, template, cluster, severity = row
    return RunContext(
        run_id=run.id,
        state=run.state,
        cluster_id=cluster.id,
        cluster=cluster.name,
        cluster_labels={str(k): str(v) for k, v in (cluster.labels or {}).items()},
        credentials=cluster.credentials,
        case_id=case.id,
        case=case.name,
        template=template.name,
        entry_point=template.entry_point,
        image=template.image,
        params=dict(case.params or {}),
        binding_severity=severity or "medium",
        created=run.created,
        finished=run.finished or run.created,
        messages=tuple(str(m) for m in run.messages or []),
        steps=tuple((str(s["name"]), bool(s["ok"]), s.get("error")) for s in run.steps or ()),
        details=dict(run.details or {}),
    )


async def failing_around(session: AsyncSession, ctx: RunContext, window: dt.timedelta) -> dict[str, Any]:
    """Other runs that failed within ``window`` of this one: same cluster (other cases), and elsewhere."""
    rows = (
        await session.execute(
            select(Run.id, Cluster.name, Case.name, Run.root_cause)
            .join(Case, Case.id == Run.case_id)
            .join(Cluster, Cluster.id == Run.cluster_id)
            .where(
                Run.id != ctx.run_id,
                Run.state.in_(FAILING),
                Run.finished >= ctx.finished - window,
                Run.finished <= ctx.finished + window,
            )
            .limit(200)
        )
    ).all()
    same = sorted({case for _, cl, case, _ in rows if cl == ctx.cluster and case != ctx.case})
    clusters = sorted({cl for _, cl, _, _ in rows if cl != ctx.cluster})
    return {"same_cluster_cases": same[:20], "other_clusters": clusters[:20], "runs": len(rows)}


async def consecutive_failures(session: AsyncSession, ctx: RunContext, limit: int = 10) -> int:
    """How many runs of this case on this cluster failed in a row, ending with this one."""
    states = (
        await session.execute(
            select(Run.state)
            .where(
                Run.case_id == ctx.case_id,
                Run.cluster_id == ctx.cluster_id,
                Run.created <= ctx.created,
                Run.state.in_(ANALYSED),
            )
            .order_by(Run.created.desc())
            .limit(limit)
        )
    ).scalars()
    count = 0
    for state in states:
        if state not in FAILING:
            break
        count += 1
    return count


async def recent_changes(
    session: AsyncSession, ctx: RunContext, window: dt.timedelta, limit: int = 10
) -> list[dict[str, Any]]:
    """Change events for the cluster before the run: what event-triggered runs recorded of them."""
    rows = (
        await session.execute(
            select(Run.details, Run.created)
            .where(
                Run.cluster_id == ctx.cluster_id,
                Run.trigger == "event",
                Run.created >= ctx.created - window,
                Run.created <= ctx.finished,
            )
            .order_by(Run.created.desc())
            .limit(limit * 5)
        )
    ).all()
    seen: dict[str, dict[str, Any]] = {}
    for details, created in rows:
        event = (details or {}).get("event")
        if isinstance(event, dict) and event.get("id") and event["id"] not in seen:
            seen[str(event["id"])] = {**event, "at": created.isoformat()}
    return list(seen.values())[:limit]


async def save(session: AsyncSession, run_id: str, replica: str, values: dict[str, Any]) -> bool:
    """Store the verdict, if this replica still holds the claim; also set the run's root cause."""
    result = await session.execute(
        update(RunAnalysis)
        .where(
            RunAnalysis.run_id == run_id,
            RunAnalysis.state == CLAIMED,
            RunAnalysis.claimed_by == replica,
        )
        .values(state=DONE, finished=utcnow(), **values)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    if values.get("cause") and values.get("outcome") != "passed":
        await session.execute(update(Run).where(Run.id == run_id).values(root_cause=values["cause"]))
    return True


async def get_analysis(session: AsyncSession, run_id: str) -> dict[str, Any]:
    found = (await session.execute(select(Run.id).where(Run.id == run_id))).first()
    if found is None:
        raise NotFoundError(f"no run with id {run_id!r}")
    row = await session.get(RunAnalysis, run_id)
    feedback = (
        await session.execute(
            select(RcaFeedback).where(RcaFeedback.run_id == run_id).order_by(RcaFeedback.id.desc())
        )
    ).scalars()
    corrections = [{"cause": f.cause, "by": f.actor, "at": f.at} for f in feedback]
    if row is None:
        return {"run_id": run_id, "state": "pending", "feedback": corrections}
    return {
        "run_id": run_id,
        "state": row.state,
        "attempts": row.attempts,
        "finished": row.finished,
        "outcome": row.outcome,
        "cause": row.cause,
        "confidence": row.confidence,
        "source": row.source,
        "rule": row.rule,
        "priority": row.priority,
        "action": row.action,
        "reason": row.reason,
        "evidence": row.evidence,
        "verification": row.verification,
        "error": row.error,
        "feedback": corrections,
    }


async def add_feedback(session: AsyncSession, run_id: str, cause: str, who: Principal) -> dict[str, Any]:
    """An operator names the real cause of a run; its failure text becomes a training line."""
    if cause not in ROOT_CAUSES:
        raise InvalidInputError(
            f"cause: {cause!r} is not a root-cause label; use one of: {', '.join(ROOT_CAUSES)}",
            field="cause",
        )
    ctx = await run_context(session, run_id)
    if ctx is None:
        raise NotFoundError(f"no run with id {run_id!r}")
    if ctx.state not in FAILING:
        raise InvalidInputError(
            f"run {run_id} is {ctx.state}: only failed, error or timed_out runs have a cause to correct",
            field="run",
        )
    row = await session.get(RunAnalysis, run_id)
    events = list(((row.evidence if row else {}) or {}).get("events_used") or [])
    failure = {"step": ctx.failed_step, "messages": list(ctx.messages), "events": events}
    session.add(RcaFeedback(run_id=run_id, cause=cause, failure=failure, actor=who.name, at=utcnow()))
    audit(session, who, "feedback", "run", run_id, {"cause": cause})
    return {"run_id": run_id, "cause": cause, "failure": failure}


async def feedback_lines(session: AsyncSession, limit: int = 10_000) -> list[dict[str, Any]]:
    """The latest correction per run, as corpus lines ``{"step", "messages", "events", "cause"}``."""
    latest = (
        select(RcaFeedback.run_id, func.max(RcaFeedback.id).label("id"))
        .group_by(RcaFeedback.run_id)
        .subquery()
    )
    rows = (
        await session.execute(
            select(RcaFeedback)
            .join(latest, and_(latest.c.id == RcaFeedback.id))
            .order_by(RcaFeedback.id)
            .limit(limit)
        )
    ).scalars()
    return [{**f.failure, "cause": f.cause} for f in rows]
