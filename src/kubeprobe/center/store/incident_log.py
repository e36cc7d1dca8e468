"""Incidents in the store: load the open ones, apply a decision of kubeprobe.alerting, record signals,
queue deliveries in the same transaction (so neither an incident nor its notification is ever lost),
claim due deliveries, and the API's reads and acknowledgements."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.alerting.incidents import Decision, Incident, Member, Notice, acknowledge
from kubeprobe.alerting.incidents import escalate as lifecycle_escalate
from kubeprobe.alerting.messages import notification
from kubeprobe.alerting.routes import RouteTable
from kubeprobe.alerting.signals import Signal
from kubeprobe.center.auth import Principal
from kubeprobe.center.errors import InvalidInputError, NotFoundError
from kubeprobe.center.schemas.alerting import (
    DeliveryOut,
    IncidentDetail,
    IncidentOut,
    MemberOut,
    RemediationNote,
    SignalOut,
)
from kubeprobe.center.store.common import audit, check_limit, utcnow
from kubeprobe.center.store.tables.alerting import DeliveryRow, IncidentRow, IncidentSignal
from kubeprobe.center.store.tables.remedy import RemediationRow

#: PostgreSQL advisory lock that serializes incident decisions across center replicas
ALERTING_LOCK = 0x6B7062_616C7274


def _member_json(m: Member) -> dict[str, Any]:
    return {**m.__dict__, "first": m.first.isoformat(), "last": m.last.isoformat()}


def _member(data: dict[str, Any]) -> Member:
    return Member(
        **{
            **data,
            "first": dt.datetime.fromisoformat(data["first"]),
            "last": dt.datetime.fromisoformat(data["last"]),
        }
    )


def to_incident(row: IncidentRow, keys: dict[int, str]) -> Incident:
    return Incident(
        key=row.key,
        scope=row.scope,  # type: ignore[arg-type]
        cause=row.cause,
        cluster=row.cluster,
        priority=row.priority,
        opened=row.opened,
        updated=row.updated,
        last_failure=row.last_failure,
        confidence=row.confidence,
        state=row.state,  # type: ignore[arg-type]
        members=[_member(m) for m in row.members],
        cluster_labels=dict(row.cluster_labels),
        recent_changes=list(row.recent_changes),
        shared=row.shared,
        reason=row.reason,
        notify=row.notify,
        muted_by=row.muted_by,
        parent_key=keys.get(row.parent_id) if row.parent_id is not None else None,
        acked_by=row.acked_by,
        acked_at=row.acked_at,
        resolved_at=row.resolved_at,
        last_notified=row.last_notified,
        reminders=row.reminders,
        id=row.id,
    )


def _fill(row: IncidentRow, inc: Incident) -> None:
    row.key, row.scope, row.cause, row.cluster = inc.key, inc.scope, inc.cause, inc.cluster
    row.priority, row.state, row.confidence = inc.priority, inc.state, inc.confidence
    row.opened, row.updated, row.last_failure, row.resolved_at = (
        inc.opened,
        inc.updated,
        inc.last_failure,
        inc.resolved_at,
    )
    row.members = [_member_json(m) for m in inc.members]
    row.cluster_labels, row.recent_changes = dict(inc.cluster_labels), list(inc.recent_changes)
    row.shared, row.reason, row.notify, row.muted_by = inc.shared, inc.reason, inc.notify, inc.muted_by
    row.acked_by, row.acked_at, row.last_notified, row.reminders = (
        inc.acked_by,
        inc.acked_at,
        inc.last_notified,
        inc.reminders,
    )


async def lock(session: AsyncSession) -> None:
    """One incident decision at a time across replicas (PostgreSQL); SQLite has one writer anyway."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(ALERTING_LOCK)))


async def open_incidents(
    session: AsyncSession, signal: Signal | None = None
) -> tuple[list[Incident], dict[str, IncidentRow]]:
    """Open incidents as alerting records, and their rows by key: all of them, or those a signal can
    touch (its cause anywhere, for fleet correlation; its cluster, to resolve; every fleet incident)."""
    query = select(IncidentRow).where(IncidentRow.state != "resolved")
    if signal is not None:
        query = query.where(
            or_(
                IncidentRow.cause == signal.cause,
                IncidentRow.cluster == signal.cluster,
                IncidentRow.scope == "fleet",
            )
        )
    rows = (await session.execute(query)).scalars().all()
    keys = {r.id: r.key for r in rows}
    return [to_incident(r, keys) for r in rows], {r.key: r for r in rows}


async def resolved_since(session: AsyncSession, cluster: str, since: dt.datetime) -> list[Incident]:
    """Incidents of ``cluster`` resolved at or after ``since`` (the start of a failed run analysed
    now: such a late failure must not reopen their cause). The (state, updated) index narrows the
    scan: a resolution sets ``updated``."""
    query = (
        select(IncidentRow)
        .where(
            IncidentRow.state == "resolved",
            IncidentRow.updated >= since,
            IncidentRow.cluster == cluster,
            IncidentRow.resolved_at >= since,
        )
        .order_by(IncidentRow.id.desc())
        .limit(100)
    )
    rows = (await session.execute(query)).scalars().all()
    keys = {r.id: r.key for r in rows}
    return [to_incident(r, keys) for r in rows]


async def apply(
    session: AsyncSession,
    decision: Decision,
    rows: dict[str, IncidentRow],
    routes: RouteTable,
    now: dt.datetime,
) -> None:
    """Write changed and new incidents (parents first), then queue one delivery per notice and receiver."""
    for inc in sorted(decision.changed, key=lambda i: i.scope != "fleet"):
        row = rows.get(inc.key)
        if row is None:
            row = IncidentRow()
            session.add(row)
        _fill(row, inc)
        if inc.parent_key is not None and inc.parent_key in rows:
            await session.flush()
            row.parent_id = rows[inc.parent_key].id
        await session.flush()
        inc.id = row.id
        rows[inc.key] = row
    for inc in decision.changed:  # parents created in this decision now have ids
        if inc.parent_key is not None:
            rows[inc.key].parent_id = rows[inc.parent_key].id
    await session.flush()
    for notice in decision.notices:
        await enqueue(session, notice, routes, now)


async def enqueue(session: AsyncSession, notice: Notice, routes: RouteTable, now: dt.datetime) -> int:
    inc = notice.incident
    assert inc.id is not None
    if notice.event in ("acknowledged", "resolved"):
        told = select(DeliveryRow.receiver).where(DeliveryRow.incident_id == inc.id).distinct()
        receivers = sorted((await session.execute(told)).scalars().all())
    else:
        receivers = routes.receivers(inc.priority, inc.labels())
    payload = notification(inc, notice.event).as_json()
    for receiver in receivers:
        session.add(
            DeliveryRow(
                incident_id=inc.id,
                receiver=receiver,
                event=notice.event,
                payload=payload,
                state="pending",
                attempts=0,
                next_attempt=now,
                last_error="",
                created=now,
            )
        )
    return len(receivers)


def record_signal(session: AsyncSession, signal: Signal, incident_id: int | None, note: str) -> None:
    session.add(
        IncidentSignal(
            incident_id=incident_id,
            run_id=signal.run_id,
            cluster=signal.cluster,
            case=signal.case,
            outcome=str(signal.outcome),
            cause=signal.cause,
            confidence=signal.confidence,
            priority=signal.priority,
            action=signal.action,
            step=signal.step,
            message=signal.message[:8000],
            reason=signal.reason,
            run_url=signal.run_url,
            recent_changes=list(signal.recent_changes),
            evidence=dict(signal.evidence),
            note=note,
            at=signal.at,
        )
    )


# --- deliveries --------------------------------------------------------------------------------


async def claim_deliveries(
    session: AsyncSession, now: dt.datetime, lease_s: float, limit: int
) -> list[DeliveryRow]:
    """Due deliveries, leased to this worker: another replica (or this one after a crash) takes them
    again only when the lease runs out, so a notification is sent at least once."""
    query = (
        select(DeliveryRow)
        .where(DeliveryRow.state == "pending", DeliveryRow.next_attempt <= now)
        .order_by(DeliveryRow.next_attempt, DeliveryRow.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list((await session.execute(query)).scalars().all())
    for row in rows:
        row.attempts += 1
        row.next_attempt = now + dt.timedelta(seconds=lease_s)
    return rows


async def finish_delivery(
    session: AsyncSession,
    delivery_id: int,
    *,
    error: str | None,
    retry_at: dt.datetime | None,
    now: dt.datetime,
) -> None:
    """Sent (error None), failed for now (retry_at), or failed for good (neither)."""
    values: dict[str, Any]
    if error is None:
        values = {"state": "sent", "sent_at": now, "last_error": ""}
    elif retry_at is not None:
        values = {"next_attempt": retry_at, "last_error": error[:2000]}
    else:
        values = {"state": "failed", "last_error": error[:2000]}
    await session.execute(update(DeliveryRow).where(DeliveryRow.id == delivery_id).values(**values))


# --- reads and acknowledgement for the API ------------------------------------------------------


def incident_out(row: IncidentRow) -> IncidentOut:
    inc = to_incident(row, {})
    clusters, cases = inc.clusters(), inc.cases()
    where = row.cluster if row.scope != "fleet" else f"{len(clusters)} clusters"
    return IncidentOut(
        id=row.id,
        title=f"[{row.priority}] {row.cause} on {where} ({', '.join(cases)})",
        key=row.key,
        scope=inc.scope,
        state=inc.state,
        silenced=row.muted_by is not None,
        priority=row.priority,
        cause=row.cause,
        confidence=row.confidence,
        cluster=row.cluster,
        clusters=clusters,
        cases=cases,
        opened=row.opened,
        updated=row.updated,
        resolved_at=row.resolved_at,
        acked_by=row.acked_by,
        acked_at=row.acked_at,
        shared=row.shared,
        reason=row.reason,
        parent_id=row.parent_id,
        reminders=row.reminders,
        members=[MemberOut(**_member_json(m)) for m in inc.members],
    )


STATES = ("firing", "acknowledged", "resolved", "open")


async def list_incidents(
    session: AsyncSession,
    *,
    state: str | None = None,
    cluster: str | None = None,
    case: str | None = None,
    cause: str | None = None,
    priority: str | None = None,
    limit: int = 100,
    before: int | None = None,
) -> list[IncidentOut]:
    """Newest first; `open` means firing or acknowledged. `case` filters after loading (members)."""
    check_limit(limit)
    if state is not None and state not in STATES:
        raise InvalidInputError(f"state: {state!r} is not one of {', '.join(STATES)}", field="state")
    query = select(IncidentRow).order_by(IncidentRow.id.desc())
    if state == "open":
        query = query.where(IncidentRow.state != "resolved")
    elif state is not None:
        query = query.where(IncidentRow.state == state)
    if cluster is not None:
        query = query.where(IncidentRow.cluster == cluster)
    if cause is not None:
        query = query.where(IncidentRow.cause == cause)
    if priority is not None:
        query = query.where(IncidentRow.priority == priority)
    if before is not None:
        query = query.where(IncidentRow.id < before)
    found: list[IncidentOut] = []
    for batch_start in range(0, 100_000, limit * 4):
        rows = (await session.execute(query.offset(batch_start).limit(limit * 4))).scalars().all()
        for row in rows:
            out = incident_out(row)
            if case is None or case in out.cases:
                found.append(out)
                if len(found) == limit:
                    return found
        if len(rows) < limit * 4:
            break
    return found


async def get_row(session: AsyncSession, incident_id: int) -> IncidentRow:
    row = await session.get(IncidentRow, incident_id)
    if row is None:
        raise NotFoundError(f"no incident {incident_id}")
    return row


async def show_incident(session: AsyncSession, incident_id: int, *, signals: int = 50) -> IncidentDetail:
    row = await get_row(session, incident_id)
    sigs = (
        await session.execute(
            select(IncidentSignal)
            .where(IncidentSignal.incident_id == incident_id)
            .order_by(IncidentSignal.at.desc(), IncidentSignal.id.desc())
            .limit(signals)
        )
    ).scalars()
    dels = (
        await session.execute(
            select(DeliveryRow).where(DeliveryRow.incident_id == incident_id).order_by(DeliveryRow.id)
        )
    ).scalars()
    children = (
        await session.execute(select(IncidentRow.id).where(IncidentRow.parent_id == incident_id))
    ).scalars()
    fixes = (
        await session.execute(
            select(RemediationRow)
            .where(RemediationRow.incident_id == incident_id)
            .order_by(RemediationRow.id)
        )
    ).scalars()
    return IncidentDetail(
        **incident_out(row).model_dump(),
        signals=[SignalOut.model_validate(s, from_attributes=True) for s in sigs],
        deliveries=[DeliveryOut.model_validate(d, from_attributes=True) for d in dels],
        children=sorted(children),
        remediations=[_remediation_note(r) for r in fixes],
    )


def _remediation_note(row: RemediationRow) -> RemediationNote:
    """What self-healing did about an incident: the action, its target and how it ended, and why."""
    result = row.result or {}
    why = "; ".join([str(result.get("error") or ""), *map(str, result.get("denials") or [])]).strip("; ")
    return RemediationNote(
        id=row.id,
        action=row.action,
        target=f"{row.kind} {row.namespace + '/' if row.namespace else ''}{row.name}",
        mode=row.mode,
        state=row.state,
        policy=row.policy,
        reason=why[:2000],
    )


async def ack_incident(
    session: AsyncSession, incident_id: int, who: Principal, routes: RouteTable, comment: str = ""
) -> IncidentDetail:
    """Acknowledge (with a fleet incident's children); the receivers that were told hear of it."""
    await lock(session)
    row = await get_row(session, incident_id)
    if row.state == "resolved":
        raise InvalidInputError(f"incident {incident_id} is resolved; there is nothing to acknowledge")
    now = utcnow()
    incidents, rows = await open_incidents(session)
    target = next(i for i in incidents if i.id == incident_id)
    children = [i for i in incidents if i.parent_key == target.key]
    decision = acknowledge(target, children, f"{who.name} ({who.role})", now)
    await apply(session, decision, rows, routes, now)
    audit(session, who, "acknowledge", "incident", str(incident_id), {"comment": comment, "key": row.key})
    return await show_incident(session, incident_id)


async def escalate_incident(
    session: AsyncSession, incident_id: int, why: str, routes: RouteTable, now: dt.datetime
) -> bool:
    """Escalate an open incident (:func:`kubeprobe.alerting.incidents.escalate`); False if it is over."""
    await lock(session)
    incidents, rows = await open_incidents(session)
    target = next((i for i in incidents if i.id == incident_id), None)
    if target is None:
        return False
    await apply(session, lifecycle_escalate(target, why, now), rows, routes, now)
    return True


async def count_due(session: AsyncSession, now: dt.datetime) -> int:
    query = select(func.count()).where(DeliveryRow.state == "pending", DeliveryRow.next_attempt <= now)
    return int((await session.execute(query)).scalar_one())
