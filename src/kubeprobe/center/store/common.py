"""Helpers every store module uses: the clock, lookups by name, the audit entry, cursors."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.auth import Principal
from kubeprobe.center.errors import ConflictError, InvalidInputError, NotFoundError
from kubeprobe.center.store.tables import AuditEntry, Base

M = TypeVar("M", bound=Base)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def by_name(
    session: AsyncSession, model: type[M], name: str, what: str, *, field: str | None = None
) -> M:
    row = (await session.execute(select(model).where(model.name == name))).scalar_one_or_none()  # type: ignore[attr-defined]
    if row is None:
        if field is None:
            raise NotFoundError(f"no {what} named {name!r}")
        raise InvalidInputError(f"{field}: no {what} named {name!r}", field=field)
    return row


async def ensure_new(session: AsyncSession, model: type[M], name: str, what: str) -> None:
    found = (await session.execute(select(model.id).where(model.name == name))).first()  # type: ignore[attr-defined]
    if found is not None:
        raise ConflictError(f"name: a {what} named {name!r} already exists; pick another name", field="name")


def audit(  # noqa: PLR0917 (one call shape everywhere)
    session: AsyncSession,
    who: Principal,
    action: str,
    resource: str,
    name: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add an audit entry to the request's transaction: it lands exactly when the change does."""
    session.add(
        AuditEntry(
            at=utcnow(),
            actor=who.name,
            role=who.role,
            action=action,
            resource=resource,
            name=name,
            detail=detail or {},
        )
    )


def encode_cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode("\x1f".join(parts).encode()).decode()


def decode_cursor(cursor: str, count: int) -> list[str]:
    try:
        parts = base64.urlsafe_b64decode(cursor.encode()).decode().split("\x1f")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            "cursor: not a cursor this API returned; pass 'next' unchanged", field="cursor"
        ) from exc
    if len(parts) != count:
        raise InvalidInputError(
            "cursor: not a cursor this API returned; pass 'next' unchanged", field="cursor"
        )
    return parts


def check_limit(limit: int) -> int:
    if not 1 <= limit <= 1000:
        raise InvalidInputError(f"limit: {limit} is out of range; allowed: 1 to 1000", field="limit")
    return limit
