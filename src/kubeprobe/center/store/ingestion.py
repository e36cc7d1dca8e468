"""Batched result ingestion: many finished runs in one transaction, idempotent by run id."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.auth import Principal
from kubeprobe.center.errors import InvalidInputError
from kubeprobe.center.run_schemas import BatchAccepted, ResultIn
from kubeprobe.center.store.common import audit, utcnow
from kubeprobe.center.store.status import StatusRow, update_status
from kubeprobe.center.store.tables import Case, Cluster, Run, RunFinding, RunStep, table_of

#: Rows per INSERT statement, below SQLite's and asyncpg's bound-parameter limits.
CHUNK = 500


async def _ids(
    session: AsyncSession, model: type[Case | Cluster], names: set[str], field: str, results: list[ResultIn]
) -> dict[str, int]:
    found = dict((await session.execute(select(model.name, model.id).where(model.name.in_(names)))).all())
    for i, r in enumerate(results):
        name = getattr(r, field)
        if name not in found:
            raise InvalidInputError(
                f"results[{i}].{field}: no {field} named {name!r}", field=f"results[{i}].{field}"
            )
    return found


async def ingest_results(session: AsyncSession, results: list[ResultIn], who: Principal) -> BatchAccepted:
    """Store finished runs with their steps and findings; a result whose id is already stored is skipped."""
    cases = await _ids(session, Case, {r.case for r in results}, "case", results)
    clusters = await _ids(session, Cluster, {r.cluster for r in results}, "cluster", results)
    now = utcnow()
    runs: list[dict[str, Any]] = []
    by_id: dict[str, ResultIn] = {}
    for r in results:
        run_id = r.id or uuid.uuid4().hex
        if run_id in by_id:
            continue
        by_id[run_id] = r
        runs.append(
            {
                "id": run_id,
                "case_id": cases[r.case],
                "cluster_id": clusters[r.cluster],
                "binding_id": None,
                "trigger": r.trigger,
                "state": r.state,
                "created": r.started,
                "deadline": r.finished,
                "started": r.started,
                "finished": r.finished,
                "duration_ms": (r.finished - r.started).total_seconds() * 1000,
                "messages": r.messages,
                "metrics": r.metrics,
                "details": {},
                "root_cause": None,
                "report_token_hash": None,
                "reported_at": now,
            }
        )
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    inserted: set[str] = set()
    for start in range(0, len(runs), CHUNK):
        stmt = (
            insert(table_of(Run)).on_conflict_do_nothing(index_elements=["id"]).returning(table_of(Run).c.id)
        )
        inserted.update((await session.execute(stmt, runs[start : start + CHUNK])).scalars().all())
    steps: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    status: list[StatusRow] = []
    for run in runs:
        if run["id"] not in inserted:
            continue
        r = by_id[run["id"]]
        status.append((run["cluster_id"], run["case_id"], run["id"], r.state, r.finished, run["duration_ms"]))
        steps.extend(
            {
                "run_id": run["id"],
                "position": i,
                "name": s.name,
                "ok": s.ok,
                "duration_ms": s.duration_ms,
                "error": s.error,
            }
            for i, s in enumerate(r.steps)
        )
        findings.extend(
            {
                "run_id": run["id"],
                "check_id": f.check_id,
                "severity": str(f.severity),
                "object": f.object.model_dump() if f.object else None,
                "message": f.message,
                "hint": f.hint,
                "details": f.details,
            }
            for f in r.findings
        )
    for table, rows in ((table_of(RunStep), steps), (table_of(RunFinding), findings)):
        for start in range(0, len(rows), CHUNK):
            await session.execute(insert(table), rows[start : start + CHUNK])
    await update_status(session, status)
    audit(
        session,
        who,
        "ingest",
        "results",
        f"{len(inserted)} runs",
        {"duplicates": len(results) - len(inserted)},
    )
    return BatchAccepted(accepted=len(inserted), duplicates=len(results) - len(inserted))
