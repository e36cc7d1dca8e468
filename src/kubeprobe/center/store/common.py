"""Helpers every store module uses: the clock, lookups by name, the audit entry, cursors, and bulk
inserts that go straight to the driver's executemany (no per-value SQLAlchemy processing)."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, overload

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import CursorResult, Table, select, text
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


#: Any 64-bit number: the advisory lock that keeps runs' and resident reports' cluster and case
#: ids valid without per-row foreign-key checks (see lock_run_parents).
RUN_PARENTS_LOCK = 0x6B7072_756E73


async def lock_run_parents(session: AsyncSession) -> None:
    """Call before looking up the clusters and cases of runs (or resident reports) to be written.

    The tables have no foreign keys to clusters and cases (a per-row check cost more than the row).
    On PostgreSQL this shared lock makes a concurrent delete_fact_rows wait for this transaction,
    and this transaction wait for a delete already under way, so a run is never written for a
    cluster or case that is being deleted. SQLite has one writer at a time and refuses to write
    from a stale snapshot: it needs nothing."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": RUN_PARENTS_LOCK})


async def delete_fact_rows(
    session: AsyncSession, *, cluster_id: int | None = None, case_id: int | None = None
) -> None:
    """Delete the runs and resident reports of a cluster or case that is being deleted (what
    ON DELETE CASCADE did), in the caller's transaction, excluding writers until it commits."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": RUN_PARENTS_LOCK})
    column, value = ("cluster_id", cluster_id) if cluster_id is not None else ("case_id", case_id)
    for table in ("runs", "resident_reports"):
        await session.execute(text(f"DELETE FROM {table} WHERE {column} = :v"), {"v": value})


#: Names per `IN (...)` lookup on SQLite, below its bound-parameter limit.
NAME_CHUNK = 500


async def ids_by_name(session: AsyncSession, table: str, names: set[str]) -> dict[str, int]:
    """``name -> id`` of the rows of ``table`` (clusters, cases) with these names, in plain SQL (no
    statement compiling per batch): one array parameter on PostgreSQL, chunks of IN on SQLite."""
    conn = await session.connection()
    if conn.dialect.name == "postgresql":
        result = await conn.exec_driver_sql(
            f"SELECT name, id FROM {table} WHERE name = ANY($1::varchar[])", (list(names),)
        )
        rows: list[Any] = list(result.all())
        return {str(row[0]): int(row[1]) for row in rows}
    ordered = sorted(names)
    found: dict[str, int] = {}
    for start in range(0, len(ordered), NAME_CHUNK):
        chunk = tuple(ordered[start : start + NAME_CHUNK])
        marks = ", ".join("?" * len(chunk))
        result = await conn.exec_driver_sql(f"SELECT name, id FROM {table} WHERE name IN ({marks})", chunk)
        chunk_rows: list[Any] = list(result.all())
        found.update((str(row[0]), int(row[1])) for row in chunk_rows)
    return found


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@overload
def aware(t: dt.datetime) -> dt.datetime: ...
@overload
def aware(t: None) -> None: ...
def aware(t: dt.datetime | None) -> dt.datetime | None:
    """A datetime in UTC: a naive one (SQLite's columns read through Core, a query parameter without
    offset) is taken as UTC; None stays None."""
    if t is None:
        return None
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


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
    # isoformat, not strftime: the same text (always with microseconds) several times faster
    return lambda t: t.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


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
    if dialect.name == "postgresql":
        if suffix:
            await unnest_insert(conn, table, names, rows, suffix)
        else:
            await _copy(conn, table.name, names, rows)
        return
    if dialect.paramstyle == "qmark":
        marks = ", ".join("?" * len(names))
    else:
        marks = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks}){suffix}"
    await conn.exec_driver_sql(sql, rows)


async def unnest_insert(
    conn: AsyncConnection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]], suffix: str
) -> CursorResult[Any]:
    """PostgreSQL: INSERT ... SELECT FROM unnest(one array per column, typed as the table's columns)
    + suffix (ON CONFLICT ..., RETURNING ...): one statement for all rows, where executemany would
    run the statement once per row. Rows are driver-ready (JSON as text)."""
    arrays, select_list = [], []
    for i, name in enumerate(columns, 1):
        sql_type = table.c[name].type.compile(conn.dialect)
        if sql_type in {"JSON", "JSONB"}:  # JSON travels as text (see insert_many) and is cast here
            arrays.append(f"${i}::text[]")
            select_list.append(f"{name}::{sql_type.lower()}")
        else:
            arrays.append(f"${i}::{sql_type}[]")
            select_list.append(name)
    names = ", ".join(columns)
    sql = (
        f"INSERT INTO {table.name} ({names}) SELECT {', '.join(select_list)}"
        f" FROM unnest({', '.join(arrays)}) AS t({names}){suffix}"
    )
    return await conn.exec_driver_sql(sql, tuple(list(col) for col in zip(*rows, strict=True)))


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
