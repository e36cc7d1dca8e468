"""Batched result ingestion: many finished runs in one transaction, idempotent by run id.

Per batch: one lookup of the case and cluster names, one of the ids already stored, then one bulk
insert of the runs (COPY on PostgreSQL; a run's steps are a JSON column of its row) and one upsert
of the latest status per case x cluster (findings, rare, go through SQLAlchemy).
A concurrent batch storing the same ids at the same moment makes this one fail whole (409): a
retry then counts them as duplicates.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.auth import Principal
from kubeprobe.center.errors import InvalidInputError
from kubeprobe.center.schemas.runs import BatchAccepted, FindingIn, ResultRow
from kubeprobe.center.store.common import audit, db_time, ids_by_name, insert_many, lock_run_parents, utcnow
from kubeprobe.center.store.status import StatusRow, update_status
from kubeprobe.center.store.tables import Run, RunFinding, table_of

#: Ids per `IN (...)` lookup, below SQLite's and asyncpg's bound-parameter limits.
CHUNK = 500
RUN_COLUMNS = (
    "id",
    "case_id",
    "cluster_id",
    "trigger",
    "state",
    "created",
    "deadline",
    "started",
    "finished",
    "duration_ms",
    "messages",
    "metrics",
    "details",
    "reported_at",
)
#: what ingestion writes: RUN_COLUMNS and the steps
INGEST_COLUMNS = (*RUN_COLUMNS, "steps")


async def _ids(session: AsyncSession, table: str, field: str, results: list[ResultRow]) -> dict[str, int]:
    names = {r[field] for r in results}  # type: ignore[literal-required]
    found = await ids_by_name(session, table, names)
    if len(found) < len(names):
        for i, r in enumerate(results):
            name = r[field]  # type: ignore[literal-required]
            if name not in found:
                raise InvalidInputError(
                    f"results[{i}].{field}: no {field} named {name!r}", field=f"results[{i}].{field}"
                )
    return found


async def _stored(session: AsyncSession, ids: list[str]) -> set[str]:
    """Which of these run ids are stored already (one plain statement per chunk, no compiling)."""
    conn = await session.connection()
    stored: set[str] = set()
    if conn.dialect.name == "postgresql":
        found = await conn.exec_driver_sql("SELECT id FROM runs WHERE id = ANY($1::varchar[])", (ids,))
        return {row[0] for row in found}
    for start in range(0, len(ids), CHUNK):
        chunk = tuple(ids[start : start + CHUNK])
        marks = ", ".join("?" * len(chunk))
        found = await conn.exec_driver_sql(f"SELECT id FROM runs WHERE id IN ({marks})", chunk)
        stored.update(row[0] for row in found)
    return stored


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def ingest_results(session: AsyncSession, results: list[ResultRow], who: Principal) -> BatchAccepted:
    """Store finished runs with their steps and findings; a result whose id is already stored is skipped."""
    await lock_run_parents(session)
    cases = await _ids(session, "cases", "case", results)
    clusters = await _ids(session, "clusters", "cluster", results)
    by_id: dict[str, ResultRow] = {}
    for r in results:
        by_id.setdefault(r.get("id") or uuid.uuid4().hex, r)
    stored = await _stored(session, list(by_id))
    when = db_time(session.get_bind().dialect.name)
    now = when(utcnow())
    runs: list[tuple[Any, ...]] = []
    findings: list[dict[str, Any]] = []
    status: list[StatusRow] = []
    for run_id, r in by_id.items():
        if run_id in stored:
            continue
        case_id, cluster_id = cases[r["case"]], clusters[r["cluster"]]
        started, finished = r["started"], r["finished"]
        duration_ms = (finished - started).total_seconds() * 1000
        begun, ended = when(started), when(finished)
        runs.append(
            (
                run_id,
                case_id,
                cluster_id,
                r.get("trigger", "schedule"),
                r["state"],
                begun,
                ended,
                begun,
                ended,
                duration_ms,
                _json(r.get("messages", [])),
                _json(r.get("metrics", {})),
                "{}",
                now,
                _json(r.get("steps", [])),
            )
        )
        status.append((cluster_id, case_id, run_id, r["state"], finished, duration_ms))
        findings.extend(_finding(run_id, f) for f in r.get("findings", ()))
    await insert_many(session, table_of(Run), INGEST_COLUMNS, runs)
    for start in range(0, len(findings), CHUNK):
        await session.execute(table_of(RunFinding).insert(), findings[start : start + CHUNK])
    await update_status(session, status)
    accepted = len(runs)
    audit(session, who, "ingest", "results", f"{accepted} runs", {"duplicates": len(results) - accepted})
    return BatchAccepted(accepted=accepted, duplicates=len(results) - accepted)


def _finding(run_id: str, f: FindingIn) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "check_id": f.check_id,
        "severity": str(f.severity),
        "object": f.object.model_dump() if f.object else None,
        "message": f.message,
        "hint": f.hint,
        "details": f.details,
    }
