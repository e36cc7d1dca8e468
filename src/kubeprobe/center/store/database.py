"""The store: one engine, one transaction per request, database faults turned into center errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from kubeprobe.center.errors import ConflictError, StoreUnavailableError
from kubeprobe.center.store.engine import create_engine, current_revision, head_revision, migrate, sessions

UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError, OSError, TimeoutError)
#: SQLSTATE classes that mean "not now" rather than "wrong": connection exception, insufficient
#: resources, object not in prerequisite state (lock not available), operator intervention, and
#: transaction rollback (serialization failure, deadlock).
RETRYABLE_SQLSTATE = {"08", "53", "55", "57", "40"}


def unavailable(exc: BaseException) -> bool:
    """Whether a database error means the database cannot serve now (503), not a bug (500)."""
    if isinstance(exc, UNAVAILABLE):
        return True
    if not isinstance(exc, DBAPIError) or isinstance(exc, IntegrityError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None)
    return isinstance(state, str) and state[:2] in RETRYABLE_SQLSTATE


class Store:
    """Owns the engine; `transaction()` is the unit of work of one API request."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = sessions(engine)

    @classmethod
    def connect(cls, url: str, *, pool_size: int = 10, timeout: float = 5.0) -> Store:
        return cls(create_engine(url, pool_size=pool_size, timeout=timeout))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def migrate(self) -> None:
        try:
            await migrate(self.engine)
        except (DBAPIError, *UNAVAILABLE) as exc:
            if not unavailable(exc):
                raise
            raise StoreUnavailableError(f"database unavailable while migrating: {exc}") from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """Commit when the block ends, roll back on any error: nothing is ever half-written."""
        try:
            async with self._sessions() as session, session.begin():
                yield session
        except IntegrityError as exc:
            raise ConflictError(f"conflicts with stored data (a concurrent change?): {exc.orig}") from exc
        except (DBAPIError, *UNAVAILABLE) as exc:
            if not unavailable(exc):
                raise
            raise StoreUnavailableError(
                f"database unavailable, nothing was written: {type(exc).__name__}"
            ) from exc

    async def ready(self) -> str | None:
        """None when the database answers and has the newest schema; otherwise why not."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            revision = await current_revision(self.engine)
        except (DBAPIError, *UNAVAILABLE) as exc:
            if not unavailable(exc):
                raise
            return f"database unavailable: {type(exc).__name__}"
        head = head_revision()
        return None if revision == head else f"schema at revision {revision}, expected {head}"

    async def close(self) -> None:
        await self.engine.dispose()
