"""Silences in the store: CRUD with audit entries, the silences in force (as kubeprobe.alerting
Silence objects), and the names and labels a pause-mode silence (a maintenance window) matches on."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.alerting.matchers import MatcherError, parse_all
from kubeprobe.alerting.silences import ScheduleError, Silence, weekly_cron
from kubeprobe.center.auth import Principal
from kubeprobe.center.errors import InvalidInputError, NotFoundError
from kubeprobe.center.schemas.silences import SilenceIn, SilenceOut
from kubeprobe.center.store.common import audit, utcnow
from kubeprobe.center.store.tables import Case, Cluster
from kubeprobe.center.store.tables.alerting import SilenceRow

log = logging.getLogger(__name__)


def to_silence(row: SilenceRow) -> Silence:
    return Silence(
        id=row.id,
        matchers=parse_all(list(row.matchers)),
        mode=row.mode,  # type: ignore[arg-type]
        starts=row.starts,
        ends=row.ends,
        cron=row.cron,
        duration_s=row.duration_s,
        timezone=row.timezone,
        comment=row.comment,
    )


def silence_out(row: SilenceRow, now: dt.datetime) -> SilenceOut:
    usable = _usable(row)
    return SilenceOut(
        id=row.id,
        matchers=list(row.matchers),
        mode=row.mode,
        starts=row.starts,
        ends=row.ends,
        cron=row.cron,
        duration_s=row.duration_s,
        timezone=row.timezone,
        comment=row.comment,
        created_by=row.created_by,
        created=row.created,
        active=usable is not None and usable.active(now),
        error=row.error,
    )


def checked_silence(body: SilenceIn, now: dt.datetime) -> Silence:
    """The silence a request asks for, or an InvalidInputError naming the field that is wrong."""
    if body.cron and body.weekly:
        raise InvalidInputError("weekly: give cron or weekly, not both", field="weekly")
    try:
        matchers = parse_all(list(body.matchers))
    except MatcherError as exc:
        raise InvalidInputError(f"matchers: {exc}", field="matchers") from exc
    try:
        cron = weekly_cron(body.weekly.days, body.weekly.at) if body.weekly else body.cron
        starts = body.starts if body.starts or cron else now
        return Silence(
            0, matchers, body.mode, starts, body.ends, cron, body.duration_s, body.timezone, body.comment
        )
    except ScheduleError as exc:
        field = str(exc).split(":", 1)[0]
        raise InvalidInputError(
            str(exc), field=f"weekly.{field}" if field in ("days", "at") else field
        ) from exc


async def create_silence(session: AsyncSession, body: SilenceIn, who: Principal) -> SilenceOut:
    now = utcnow()
    s = checked_silence(body, now)
    row = SilenceRow(
        matchers=[str(m) for m in s.matchers],
        mode=s.mode,
        starts=s.starts,
        ends=s.ends,
        cron=s.cron,
        duration_s=s.duration_s,
        timezone=s.timezone,
        comment=s.comment,
        created_by=who.name,
        created=now,
    )
    session.add(row)
    await session.flush()
    audit(session, who, "create", "silence", str(row.id), {"matchers": row.matchers, "mode": row.mode})
    return silence_out(row, now)


async def current_silences(session: AsyncSession, now: dt.datetime) -> list[Silence]:
    """Silences not yet over (active now or later)."""
    rows = await session.execute(
        select(SilenceRow).where(or_(SilenceRow.ends.is_(None), SilenceRow.ends > now))
    )
    silences = []
    for row in rows.scalars():  # one silence stored before matchers were checked never stops the rest
        if (silence := _usable(row)) is not None:
            silences.append(silence)
    return silences


def _usable(row: SilenceRow) -> Silence | None:
    """The silence of a row, or None when it no longer validates: then ``row.error`` says why
    (shown on the silence) until it validates again or is replaced."""
    try:
        silence, error = to_silence(row), None
    except (MatcherError, ScheduleError) as exc:
        silence, error = None, f"skipped: it no longer validates ({exc}); replace or delete it"
    if row.error != error:
        if error:
            log.error("silence %s is %s", row.id, error)
        row.error = error
    return silence


async def list_silences(session: AsyncSession, *, expired: bool = False) -> list[SilenceOut]:
    now = utcnow()
    query = select(SilenceRow).order_by(SilenceRow.id)
    if not expired:
        query = query.where(or_(SilenceRow.ends.is_(None), SilenceRow.ends > now))
    return [silence_out(r, now) for r in (await session.execute(query)).scalars()]


async def get_silence(session: AsyncSession, silence_id: int) -> SilenceRow:
    row = await session.get(SilenceRow, silence_id)
    if row is None:
        raise NotFoundError(f"no silence {silence_id}")
    return row


async def update_silence(
    session: AsyncSession, silence_id: int, body: SilenceIn, who: Principal
) -> SilenceOut:
    row = await get_silence(session, silence_id)
    now = utcnow()
    s = checked_silence(body, now)
    row.matchers, row.mode, row.starts, row.ends = [str(m) for m in s.matchers], s.mode, s.starts, s.ends
    row.cron, row.duration_s, row.timezone, row.comment = s.cron, s.duration_s, s.timezone, s.comment
    row.error = None  # checked just now
    audit(session, who, "update", "silence", str(silence_id), {"matchers": row.matchers, "mode": row.mode})
    return silence_out(row, now)


async def delete_silence(session: AsyncSession, silence_id: int, who: Principal) -> None:
    row = await get_silence(session, silence_id)
    await session.delete(row)
    audit(session, who, "delete", "silence", str(silence_id), {"matchers": row.matchers})


async def pair_labels(
    session: AsyncSession, pairs: set[tuple[int, int]]
) -> tuple[dict[int, tuple[str, dict[str, str]]], dict[int, str]]:
    """For (cluster id, case id) pairs: cluster id → (name, labels) and case id → name."""
    clusters = {
        row.id: (row.name, {str(k): str(v) for k, v in (row.labels or {}).items()})
        for row in await session.execute(
            select(Cluster.id, Cluster.name, Cluster.labels).where(Cluster.id.in_({c for c, _ in pairs}))
        )
    }
    cases = dict(
        (await session.execute(select(Case.id, Case.name).where(Case.id.in_({k for _, k in pairs})))).all()
    )
    return clusters, cases
