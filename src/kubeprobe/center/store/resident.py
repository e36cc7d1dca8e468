"""Resident operator reports: stored once by key, and mirrored as runs for the health views.

Each new report becomes a row of ``resident_reports`` and a finished run (id = the report's key)
of its case on its cluster, so ``/clusters/{name}/health`` and ``/runs`` show resident results
next to scheduled ones: healthy and degraded → succeeded (degraded says so in its message),
failing → failed, unknown → error. A summary's run carries the period's counts and latency
percentiles in ``metrics`` and its p50 as ``duration_ms``. A case that does not exist yet is
created from the ``resident-probe`` template.

A batch is one transaction and a few statements whatever its size: one lookup of its clusters,
one of its cases, one INSERT ... ON CONFLICT (key) DO NOTHING RETURNING key per chunk of reports
(the idempotency check and the write in one), one bulk INSERT of the new runs (COPY on
PostgreSQL) and one upsert of the latest status per case x cluster. Values go to the driver ready
made (JSON text by orjson, datetimes as ``db_time`` gives them): no per-value work in SQLAlchemy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.auth import Principal
from kubeprobe.center.errors import NotFoundError
from kubeprobe.center.schemas.resident import ResidentAccepted, ResidentReportOut, ResidentRow
from kubeprobe.center.store.common import (
    audit,
    db_time,
    ids_by_name,
    insert_many,
    lock_run_parents,
    unnest_insert,
    utcnow,
)
from kubeprobe.center.store.ingestion import RUN_COLUMNS
from kubeprobe.center.store.status import StatusRow, update_status
from kubeprobe.center.store.tables import Case, CaseTemplate, Cluster, ResidentReport, Run, table_of

TEMPLATE = "resident-probe"
#: Rows per multi-row INSERT on SQLite (x 10 columns, below its bound-parameter limit) and per
#: unnest() INSERT on PostgreSQL (arrays have no such limit; a chunk bounds one statement's size).
CHUNK = 500
PG_CHUNK = 5000
REPORT_COLUMNS = (
    "key",
    "cluster_id",
    "case_id",
    "config",
    "kind",
    "state",
    "previous",
    "at",
    "received",
    "body",
)
RUN_STATE = {"healthy": "succeeded", "degraded": "succeeded", "failing": "failed", "unknown": "error"}


async def _template_id(session: AsyncSession) -> int:
    found = (await session.execute(select(CaseTemplate.id).where(CaseTemplate.name == TEMPLATE))).scalar()
    if found is not None:
        return int(found)
    row = CaseTemplate(
        name=TEMPLATE,
        kind="probe",
        entry_point=None,
        image=None,
        command=[],
        params_schema={"type": "object", "properties": {}, "additionalProperties": True},
        timeout_seconds=60.0,
        description="A ProbeConfig run by the resident operator in its cluster; reports arrive in batches.",
        builtin=True,
        created=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row.id


async def _case_ids(session: AsyncSession, reports: list[ResidentRow], who: Principal) -> dict[str, int]:
    found = await ids_by_name(session, "cases", {r["case"] for r in reports})
    missing: dict[str, ResidentRow] = {}
    for r in reports:
        if r["case"] not in found:
            missing.setdefault(r["case"], r)
    if missing:
        template_id = await _template_id(session)
        rows = [
            Case(
                name=r["case"],
                template_id=template_id,
                params={"config": r["config"], "probe": r["probe"]},
                description=f"resident ProbeConfig {r['config']} ({r['probe']})",
                created=utcnow(),
            )
            for r in missing.values()
        ]
        session.add_all(rows)
        await session.flush()  # one batched INSERT for a new fleet of configs
        for row in rows:
            found[row.name] = row.id
        audit(session, who, "create", "cases", f"{len(rows)} resident cases", {"template": TEMPLATE})
    return found


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _run_row(
    r: ResidentRow, case_id: int, cluster_id: int, now: Any, when: Callable[[dt.datetime], Any]
) -> tuple[Any, ...]:
    """The run that mirrors a report, in RUN_COLUMNS order, driver-ready (see ``db_time``)."""
    state = r["state"]
    if r["kind"] == "summary":
        started, finished = r.get("period_start") or r["at"], r.get("period_end") or r["at"]
        latency = r.get("latency_ms") or {}
        duration = latency.get("p50")
        runs, failed, errors = r.get("runs", 0), r.get("failed", 0), r.get("errors", 0)
        text = f"resident summary: {state}; {failed} of {runs} runs failed, {errors} undecided"
        metrics: dict[str, float] = {"runs": runs, "ok": r.get("ok", 0), "failed": failed, "errors": errors}
        for name, value in latency.items():
            metrics[f"latency_{name}_ms"] = value
    else:
        started = finished = r["at"]
        duration = r.get("duration_ms")
        reason = r.get("reason") or "no reason given"
        text = f"resident state: {r.get('previous') or 'unknown'} -> {state} ({reason})"
        metrics = {"consecutive_failures": float(r.get("consecutive_failures", 0))}
        ratio = r.get("success_ratio")
        if ratio is not None:
            metrics["success_ratio"] = ratio
    message = r.get("message")
    messages = [text, message] if message and state != "healthy" else [text]
    details = {"resident": {"kind": r["kind"], "config": r["config"], "state": state, "probe": r["probe"]}}
    begun, ended = when(started), when(finished)
    return (
        r["key"],
        case_id,
        cluster_id,
        "schedule",
        RUN_STATE[state],
        begun,
        ended,
        begun,
        ended,
        duration,
        _json(messages),
        _json(metrics),
        _json(details),
        now,
    )


async def _insert_new(session: AsyncSession, rows: list[tuple[Any, ...]]) -> set[str]:
    """INSERT report rows (REPORT_COLUMNS) ON CONFLICT (key) DO NOTHING; return the keys stored now.

    One statement per chunk, its values handed to the driver as they are: on PostgreSQL one array
    per column through ``unnest``, on SQLite one multi-row VALUES; RETURNING names the new keys, so
    a key stored before, or by a concurrent batch, is counted once, as a duplicate here."""
    conn = await session.connection()
    columns = ", ".join(REPORT_COLUMNS)
    inserted: set[str] = set()
    if conn.dialect.name == "postgresql":
        table = table_of(ResidentReport)
        for start in range(0, len(rows), PG_CHUNK):
            chunk = rows[start : start + PG_CHUNK]
            result = await unnest_insert(
                conn, table, REPORT_COLUMNS, chunk, " ON CONFLICT (key) DO NOTHING RETURNING key"
            )
            inserted.update(result.scalars())
        return inserted
    one = "(" + ", ".join("?" * len(REPORT_COLUMNS)) + ")"
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        sql = (
            f"INSERT INTO resident_reports ({columns}) VALUES {', '.join([one] * len(chunk))} "
            "ON CONFLICT (key) DO NOTHING RETURNING key"
        )
        result = await conn.exec_driver_sql(sql, tuple(v for row in chunk for v in row))
        inserted.update(result.scalars())
    return inserted


async def ingest_reports(
    session: AsyncSession, reports: list[ResidentRow], who: Principal
) -> ResidentAccepted:
    """Store new reports and their runs; a report whose key is stored already is skipped."""
    await lock_run_parents(session)
    names = {r["cluster"] for r in reports}
    clusters = await ids_by_name(session, "clusters", names)
    if len(clusters) < len(names):
        for i, r in enumerate(reports):
            if r["cluster"] not in clusters:
                # 404, not 422: the operator keeps the reports and retries once the cluster is registered.
                raise NotFoundError(
                    f"reports[{i}].cluster: no cluster named {r['cluster']!r}; register it first"
                )
    cases = await _case_ids(session, reports, who)
    when = db_time(session.get_bind().dialect.name)
    received = utcnow()
    now = when(received)
    unique: dict[str, ResidentRow] = {}
    for r in reports:
        unique.setdefault(r["key"], r)
    rows = [
        (
            r["key"],
            clusters[r["cluster"]],
            cases[r["case"]],
            r["config"],
            r["kind"],
            r["state"],
            r.get("previous"),
            when(r["at"]),
            now,
            _json(r),
        )
        for r in unique.values()
    ]
    inserted = await _insert_new(session, rows)
    runs: list[tuple[Any, ...]] = []
    status: list[StatusRow] = []
    for key, r in unique.items():
        if key in inserted:
            case_id, cluster_id = cases[r["case"]], clusters[r["cluster"]]
            runs.append(_run_row(r, case_id, cluster_id, now, when))
            finished = (r.get("period_end") or r["at"]) if r["kind"] == "summary" else r["at"]
            status.append((cluster_id, case_id, key, RUN_STATE[r["state"]], finished, runs[-1][9]))
    await insert_many(session, table_of(Run), RUN_COLUMNS, runs)  # new keys: new run ids
    await update_status(session, status)
    duplicates = len(reports) - len(inserted)
    audit(session, who, "ingest", "resident", f"{len(inserted)} reports", {"duplicates": duplicates})
    return ResidentAccepted(accepted=len(inserted), duplicates=duplicates)


async def list_reports(
    session: AsyncSession,
    *,
    cluster: str | None,
    case: str | None,
    kind: str | None,
    limit: int,
) -> list[ResidentReportOut]:
    """Stored reports, newest first (by report time, then key)."""
    query = (
        select(ResidentReport, Cluster.name, Case.name)
        .join(Cluster, Cluster.id == ResidentReport.cluster_id)
        .join(Case, Case.id == ResidentReport.case_id)
        .order_by(ResidentReport.at.desc(), ResidentReport.key)
        .limit(limit)
    )
    if cluster:
        query = query.where(Cluster.name == cluster)
    if case:
        query = query.where(Case.name == case)
    if kind:
        query = query.where(ResidentReport.kind == kind)
    out = []
    for row, cluster_name, case_name in (await session.execute(query)).all():
        out.append(
            ResidentReportOut(
                key=row.key,
                kind=row.kind,
                cluster=cluster_name,
                case=case_name,
                config=row.config,
                state=row.state,
                previous=row.previous,
                at=row.at,
                received=row.received,
                body=row.body,
            )
        )
    return out
