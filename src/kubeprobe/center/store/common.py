"""Helpers every store module uses: the clock, lookups by name, the audit entry, cursors, and bulk
inserts that go straight to the driver's executemany (no per-value SQLAlchemy processing)."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from kubeprobe.center.auth import Principal
from kubeprobe.center.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    StoreUnavailableError,
)
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


def db_time(dialect: str) -> Callable[[dt.datetime], Any]:
    """How a driver takes an aware datetime as UTCDateTime stores it (SQLite: naive UTC text in
    SQLAlchemy's format; PostgreSQL: the datetime itself)."""
    if dialect != "sqlite":
        return lambda t: t
    return lambda t: f"{t.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S.%f}"


async def insert_many(
    session: AsyncSession,
    table: Table,
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    suffix: str = "",
) -> None:
    """INSERT rows of driver-ready values (see db_time; JSON as text) in one executemany.

    Columns not named get their Python-side scalar or callable default, computed once (server
    defaults and NULL need nothing), so columns that later migrations add keep working."""
    if not rows:
        return
    conn = await session.connection()
    dialect = conn.dialect
    extra: dict[str, Any] = {}
    for column in table.columns:
        default = column.default
        if column.name in columns or default is None or not hasattr(default, "arg"):
            continue
        value = default.arg(None) if callable(default.arg) else default.arg
        processor = column.type.bind_processor(dialect)
        extra[column.name] = processor(value) if processor else value
    names = [*columns, *extra]
    if extra:
        tail = tuple(extra.values())
        rows = [row + tail for row in rows]
    if dialect.name == "postgresql" and not suffix:
        await _copy(conn, table.name, names, rows)
        return
    if dialect.paramstyle == "qmark":
        marks = ", ".join("?" * len(names))
    else:
        marks = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks}){suffix}"
    await conn.exec_driver_sql(sql, rows)


async def _copy(conn: AsyncConnection, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """PostgreSQL's COPY on the session's own connection and transaction (asyncpg, binary)."""
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    try:
        await driver.copy_records_to_table(table, records=rows, columns=columns)
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise ConflictError(f"conflicts with stored data (a concurrent change?): {exc}") from exc
    except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError) as exc:
        raise StoreUnavailableError(
            f"database unavailable, nothing was written: {type(exc).__name__}"
        ) from exc
