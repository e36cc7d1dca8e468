"""Resident operator reports: stored once by key, and mirrored as runs for the health views.

Each new report becomes a row of ``resident_reports`` and a finished run (id = the report's key)
of its case on its cluster, so ``/clusters/{name}/health`` and ``/runs`` show resident results
next to scheduled ones: healthy and degraded → succeeded (degraded says so in its message),
failing → failed, unknown → error. A summary's run carries the period's counts and latency
percentiles in ``metrics`` and its p50 as ``duration_ms``. A case that does not exist yet is
created from the ``resident-probe`` template.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from kubeprobe.center.auth import Principal
from kubeprobe.center.errors import NotFoundError
from kubeprobe.center.resident_schemas import ResidentAccepted, ResidentReportIn, ResidentReportOut
from kubeprobe.center.store.common import audit, utcnow
from kubeprobe.center.store.status import StatusRow, update_status
from kubeprobe.center.store.tables import Base, Case, CaseTemplate, Cluster, Run, table_of

TEMPLATE = "resident-probe"
CHUNK = 500
RUN_STATE = {"healthy": "succeeded", "degraded": "succeeded", "failing": "failed", "unknown": "error"}


class ResidentReport(Base):
    __tablename__ = "resident_reports"
    __table_args__ = (Index(None, "cluster_id", "case_id", "at"),)
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    config: Mapped[str] = mapped_column(String(253))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    previous: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[dt.datetime]
    received: Mapped[dt.datetime]
    body: Mapped[dict[str, Any]] = mapped_column(JSON)


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


async def _case_ids(session: AsyncSession, reports: list[ResidentReportIn], who: Principal) -> dict[str, int]:
    names = {r.case for r in reports}
    found = dict((await session.execute(select(Case.name, Case.id).where(Case.name.in_(names)))).all())
    missing: dict[str, ResidentReportIn] = {}
    for r in reports:
        if r.case not in found:
            missing.setdefault(r.case, r)
    if missing:
        template_id = await _template_id(session)
        rows = [
            Case(
                name=r.case,
                template_id=template_id,
                params={"config": r.config, "probe": r.probe},
                description=f"resident ProbeConfig {r.config} ({r.probe})",
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


def _run_row(r: ResidentReportIn, case_id: int, cluster_id: int, now: dt.datetime) -> dict[str, Any]:
    state = RUN_STATE[r.state]
    if r.kind == "summary":
        started, finished = r.period_start or r.at, r.period_end or r.at
        duration = r.latency_ms.get("p50")
        text = f"resident summary: {r.state}; {r.failed} of {r.runs} runs failed, {r.errors} undecided"
        metrics: dict[str, float] = {"runs": r.runs, "ok": r.ok, "failed": r.failed, "errors": r.errors}
        metrics.update({f"latency_{k}_ms": v for k, v in r.latency_ms.items()})
    else:
        started = finished = r.at
        duration = r.duration_ms
        text = f"resident state: {r.previous or 'unknown'} -> {r.state} ({r.reason or 'no reason given'})"
        metrics = {"consecutive_failures": float(r.consecutive_failures)}
        if r.success_ratio is not None:
            metrics["success_ratio"] = r.success_ratio
    messages = [text] + ([r.message] if r.message and r.state != "healthy" else [])
    return {
        "id": r.key,
        "case_id": case_id,
        "cluster_id": cluster_id,
        "binding_id": None,
        "trigger": "schedule",
        "state": state,
        "created": started,
        "deadline": finished,
        "started": started,
        "finished": finished,
        "duration_ms": duration,
        "messages": messages,
        "metrics": metrics,
        "details": {"resident": {"kind": r.kind, "config": r.config, "state": r.state, "probe": r.probe}},
        "root_cause": None,
        "report_token_hash": None,
        "reported_at": now,
    }


async def ingest_reports(
    session: AsyncSession, reports: list[ResidentReportIn], who: Principal
) -> ResidentAccepted:
    """Store new reports and their runs; a report whose key is stored already is skipped."""
    clusters = dict(
        (
            await session.execute(
                select(Cluster.name, Cluster.id).where(Cluster.name.in_({r.cluster for r in reports}))
            )
        ).all()
    )
    for i, r in enumerate(reports):
        if r.cluster not in clusters:
            # 404, not 422: the operator keeps the reports and retries once the cluster is registered.
            raise NotFoundError(f"reports[{i}].cluster: no cluster named {r.cluster!r}; register it first")
    cases = await _case_ids(session, reports, who)
    now = utcnow()
    unique: dict[str, ResidentReportIn] = {}
    for r in reports:
        unique.setdefault(r.key, r)
    rows = [
        {
            "key": r.key,
            "cluster_id": clusters[r.cluster],
            "case_id": cases[r.case],
            "config": r.config,
            "kind": r.kind,
            "state": r.state,
            "previous": r.previous,
            "at": r.at,
            "received": now,
            "body": r.model_dump(mode="json"),
        }
        for r in unique.values()
    ]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    table = table_of(ResidentReport)
    inserted: set[str] = set()
    for start in range(0, len(rows), CHUNK):
        stmt = insert(table).on_conflict_do_nothing(index_elements=["key"]).returning(table.c.key)
        inserted.update((await session.execute(stmt, rows[start : start + CHUNK])).scalars().all())
    runs = [
        _run_row(r, cases[r.case], clusters[r.cluster], now) for key, r in unique.items() if key in inserted
    ]
    for start in range(0, len(runs), CHUNK):
        plain = insert(table_of(Run)).on_conflict_do_nothing(index_elements=["id"])
        await session.execute(plain, runs[start : start + CHUNK])
    status: list[StatusRow] = [
        (run["cluster_id"], run["case_id"], run["id"], run["state"], run["finished"], run["duration_ms"])
        for run in runs
    ]
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
