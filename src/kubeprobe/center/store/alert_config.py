"""Silences, receivers and routes in the store: CRUD with audit entries, and the alerting objects
(kubeprobe.alerting Silence, RouteTable, notifier settings) built from them."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.alerting.matchers import MatcherError, parse_all
from kubeprobe.alerting.notifiers import NotifierConfigError, build_notifier
from kubeprobe.alerting.routes import Route, RouteTable
from kubeprobe.alerting.silences import ScheduleError, Silence, weekly_cron
from kubeprobe.center.alerting_schemas import (
    ReceiverIn,
    ReceiverOut,
    RouteIn,
    RouteOut,
    SilenceIn,
    SilenceOut,
)
from kubeprobe.center.auth import Principal
from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.errors import ConflictError, InvalidInputError, NotFoundError
from kubeprobe.center.store.alerting_tables import ReceiverRow, RouteRow, SilenceRow
from kubeprobe.center.store.common import audit, by_name, ensure_new, utcnow

# --- silences ------------------------------------------------------------------------------------


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
        active=to_silence(row).active(now),
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
    return [to_silence(r) for r in rows.scalars()]


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
    audit(session, who, "update", "silence", str(silence_id), {"matchers": row.matchers, "mode": row.mode})
    return silence_out(row, now)


async def delete_silence(session: AsyncSession, silence_id: int, who: Principal) -> None:
    row = await get_silence(session, silence_id)
    await session.delete(row)
    audit(session, who, "delete", "silence", str(silence_id), {"matchers": row.matchers})


# --- receivers -----------------------------------------------------------------------------------


def check_receiver(body: ReceiverIn) -> None:
    """Build the notifier once, so a receiver that cannot work is refused when it is made."""
    client = httpx.AsyncClient()  # never used to send: the factories only keep it
    try:
        build_notifier(body.kind, body.settings, body.secrets, client)
    except NotifierConfigError as exc:
        field = str(exc).split(":", 1)[0]
        raise InvalidInputError(f"{body.kind} receiver: {exc}", field=field) from exc


def receiver_out(row: ReceiverRow, box: SecretBox) -> ReceiverOut:
    return ReceiverOut(
        name=row.name,
        kind=row.kind,
        settings=dict(row.settings),
        secret_fields=sorted(receiver_secrets(row, box)),
        created=row.created,
        updated=row.updated,
    )


def receiver_secrets(row: ReceiverRow, box: SecretBox) -> dict[str, str]:
    data: dict[str, str] = json.loads(box.decrypt(row.secrets))
    return data


async def put_receiver(
    session: AsyncSession, box: SecretBox, body: ReceiverIn, who: Principal, *, create: bool
) -> ReceiverOut:
    """Create, or replace (secrets left out keep their stored values)."""
    now = utcnow()
    if create:
        await ensure_new(session, ReceiverRow, body.name, "receiver")
        row = ReceiverRow(name=body.name, created=now)
        session.add(row)
        secrets = dict(body.secrets)
    else:
        row = await by_name(session, ReceiverRow, body.name, "receiver")
        secrets = {**(receiver_secrets(row, box) if row.kind == body.kind else {}), **body.secrets}
    check_receiver(body.model_copy(update={"secrets": secrets}))
    row.kind, row.settings, row.secrets, row.updated = (
        body.kind,
        body.settings,
        box.encrypt(json.dumps(secrets)),
        now,
    )
    await session.flush()
    detail = {"kind": body.kind, "settings": body.settings, "secret_fields": sorted(secrets)}
    audit(session, who, "create" if create else "update", "receiver", body.name, detail)
    return receiver_out(row, box)


async def list_receivers(session: AsyncSession, box: SecretBox) -> list[ReceiverOut]:
    rows = (await session.execute(select(ReceiverRow).order_by(ReceiverRow.name))).scalars()
    return [receiver_out(r, box) for r in rows]


async def get_receiver(session: AsyncSession, box: SecretBox, name: str) -> ReceiverOut:
    return receiver_out(await by_name(session, ReceiverRow, name, "receiver"), box)


async def delete_receiver(session: AsyncSession, name: str, who: Principal) -> None:
    row = await by_name(session, ReceiverRow, name, "receiver")
    users = [r.name for r in (await session.execute(select(RouteRow))).scalars() if name in r.receivers]
    if users:
        raise ConflictError(f"receiver {name!r} is used by route(s) {', '.join(users)}; change them first")
    await session.delete(row)
    audit(session, who, "delete", "receiver", name)


async def receiver_config(
    session: AsyncSession, box: SecretBox, name: str
) -> tuple[str, dict[str, Any], dict[str, str]]:
    row = (await session.execute(select(ReceiverRow).where(ReceiverRow.name == name))).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"receiver {name!r} no longer exists")
    return row.kind, dict(row.settings), receiver_secrets(row, box)


# --- routes --------------------------------------------------------------------------------------


def route_out(row: RouteRow) -> RouteOut:
    return RouteOut.model_validate(row, from_attributes=True)


async def _check_route(session: AsyncSession, body: RouteIn, exclude: str | None) -> None:
    try:
        parse_all(list(body.matchers))
    except MatcherError as exc:
        raise InvalidInputError(f"matchers: {exc}", field="matchers") from exc
    known = set((await session.execute(select(ReceiverRow.name))).scalars())
    missing = [r for r in body.receivers if r not in known]
    if missing:
        raise InvalidInputError(f"receivers: no receiver named {', '.join(missing)}", field="receivers")
    if body.is_default:
        other = (
            await session.execute(
                select(RouteRow.name).where(RouteRow.is_default, RouteRow.name != (exclude or ""))
            )
        ).scalar_one_or_none()
        if other:
            raise ConflictError(
                f"is_default: route {other!r} is already the default route", field="is_default"
            )


async def put_route(session: AsyncSession, body: RouteIn, who: Principal, *, create: bool) -> RouteOut:
    if create:
        await ensure_new(session, RouteRow, body.name, "route")
        row = RouteRow(name=body.name, created=utcnow())
        session.add(row)
    else:
        row = await by_name(session, RouteRow, body.name, "route")
    await _check_route(session, body, None if create else body.name)
    row.position, row.matchers, row.priorities = body.position, list(body.matchers), list(body.priorities)
    row.receivers, row.continue_matching, row.is_default = (
        list(body.receivers),
        body.continue_matching,
        body.is_default,
    )
    await session.flush()
    audit(session, who, "create" if create else "update", "route", body.name, body.model_dump())
    return route_out(row)


async def list_routes(session: AsyncSession) -> list[RouteOut]:
    rows = (await session.execute(select(RouteRow).order_by(RouteRow.position, RouteRow.name))).scalars()
    return [route_out(r) for r in rows]


async def delete_route(session: AsyncSession, name: str, who: Principal) -> None:
    await by_name(session, RouteRow, name, "route")
    await session.execute(delete(RouteRow).where(RouteRow.name == name))
    audit(session, who, "delete", "route", name)


async def route_table(session: AsyncSession) -> RouteTable:
    rows = (
        (await session.execute(select(RouteRow).order_by(RouteRow.position, RouteRow.name))).scalars().all()
    )
    routes = [
        Route(
            r.name,
            tuple(r.receivers),
            parse_all(list(r.matchers)),
            frozenset(r.priorities),
            r.continue_matching,
        )
        for r in rows
        if not r.is_default
    ]
    default = next((tuple(r.receivers) for r in rows if r.is_default), ())
    return RouteTable.of(routes, default)
