"""Receivers and routes in the store (where notifications go): CRUD with audit entries, and the
alerting objects (RouteTable, notifier settings) built from them."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.alerting.matchers import MatcherError, parse_all
from kubeprobe.alerting.notifiers import NotifierConfigError, build_notifier
from kubeprobe.alerting.routes import Route, RouteTable
from kubeprobe.center.auth import Principal
from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.errors import ConflictError, InvalidInputError, NotFoundError
from kubeprobe.center.schemas.alerting import ReceiverIn, ReceiverOut, RouteIn, RouteOut
from kubeprobe.center.store.common import audit, by_name, ensure_new, utcnow
from kubeprobe.center.store.tables.alerting import ReceiverRow, RouteRow

# --- receivers -----------------------------------------------------------------------------------

log = logging.getLogger(__name__)


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
        error=row.error,
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
    row.error = None  # replaced: what failed before may work now
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


async def note_delivery(session: AsyncSession, receiver: str, error: str | None) -> None:
    """A delivery to ``receiver`` failed with ``error`` (shown on the receiver) or went through
    (None: cleared). Writes only when it changes."""
    await session.execute(
        update(ReceiverRow)
        .where(ReceiverRow.name == receiver, ReceiverRow.error.is_distinct_from(error))
        .values(error=error)
    )


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
    row.error = None  # checked just now
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
    routes = []
    for r in rows:
        if r.is_default:
            continue
        try:  # one route stored before matchers were checked never stops routing by the others
            matchers, error = parse_all(list(r.matchers)), None
        except MatcherError as exc:
            matchers, error = None, f"skipped: its matchers no longer validate ({exc}); replace it"
        if r.error != error:  # shown on the route until it validates again or is replaced
            if error:
                log.error("route %s is %s", r.name, error)
            r.error = error
        if matchers is None:
            continue
        routes.append(
            Route(r.name, tuple(r.receivers), matchers, frozenset(r.priorities), r.continue_matching)
        )
    default = next((tuple(r.receivers) for r in rows if r.is_default), ())
    return RouteTable.of(routes, default)
