"""Tables of runs: each run with its steps inline, its findings, and the latest run per case x cluster."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kubeprobe.center.store.tables.base import Base


class Run(Base):
    """One execution of a case on a cluster. `cluster_id` and `case_id` have no foreign keys (a
    per-row check was most of batched ingestion's cost); store.common keeps them valid: see
    lock_run_parents and delete_fact_rows."""

    __tablename__ = "runs"
    __table_args__ = (
        # (filter, created, id): the keyset order of run lists, read straight off each index
        Index(None, "created", "id"),
        Index(None, "cluster_id", "created", "id"),
        Index(None, "case_id", "created", "id"),
        # PostgreSQL indexes only the runs that did not succeed (the ones people filter for, and
        # pending ones for dispatch): a list of succeeded runs reads `created` and filters
        Index(None, "state", "created", "id", postgresql_where=text("state <> 'succeeded'")),
        Index(None, "finished"),
        Index(None, "cluster_id", "finished"),  # a cluster's runs since the rollup watermark
        # only runs started by the center have a report token: the others add no entry
        Index(
            "uq_runs_report_token_hash",
            "report_token_hash",
            unique=True,
            postgresql_where=text("report_token_hash IS NOT NULL"),
            sqlite_where=text("report_token_hash IS NOT NULL"),
        ),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[int]
    cluster_id: Mapped[int]
    binding_id: Mapped[int | None] = mapped_column(ForeignKey("bindings.id", ondelete="SET NULL"))
    trigger: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    created: Mapped[dt.datetime]
    deadline: Mapped[dt.datetime]
    started: Mapped[dt.datetime | None]
    finished: Mapped[dt.datetime | None]
    duration_ms: Mapped[float | None] = mapped_column(Float)
    messages: Mapped[list[Any]] = mapped_column(default=list)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: [{name, ok, duration_ms, error}] in order
    steps: Mapped[list[Any]] = mapped_column(default=list)
    root_cause: Mapped[str | None] = mapped_column(String(64))
    report_token_hash: Mapped[str | None] = mapped_column(String(64))
    reported_at: Mapped[dt.datetime | None]
    #: The replica that dispatched the run (or adopted it from a dead one); only it records the end.
    owner: Mapped[str | None] = mapped_column(String(128))


class RunFinding(Base):
    __tablename__ = "run_findings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    check_id: Mapped[str] = mapped_column(String(128))
    severity: Mapped[str] = mapped_column(String(16))
    object: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    message: Mapped[str] = mapped_column(Text)
    hint: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CaseStatus(Base):
    """The latest finished run of each case on each cluster."""

    __tablename__ = "case_status"
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(36))
    state: Mapped[str] = mapped_column(String(16))
    finished: Mapped[dt.datetime]
    duration_ms: Mapped[float | None] = mapped_column(Float)
