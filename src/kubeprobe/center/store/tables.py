"""Tables of the center. Migrations in migrations/versions must match these (a test checks it).

Runs carry what running cases needs: a deadline, the hash of a report token valid for that run
only, and `reported_at` so that a second report changes nothing. `case_status` holds the latest
run per case x cluster, `rollups` hourly and `daily_rollups` daily aggregates, so health and
history stay fast. Both rollups count latencies in the same fixed buckets (LATENCY_BUCKETS_MS), so
hours add up to days and days to any window exactly, and percentiles come from summed buckets.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use UTC-aware datetimes")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: Upper bounds (ms, inclusive) of the latency buckets of rollups; a last bucket holds the rest.
LATENCY_BUCKETS_MS: tuple[float, ...] = (
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 60_000, 150_000, 300_000, 600_000
)  # fmt: skip
#: Column of each bucket, in the order of LATENCY_BUCKETS_MS, then the overflow bucket.
BUCKET_COLUMNS: tuple[str, ...] = (
    *(f"le_{int(b)}_ms" for b in LATENCY_BUCKETS_MS),
    "le_inf_ms",
)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads it from the class)
        dt.datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Cluster(Base):
    __tablename__ = "clusters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    context: Mapped[str] = mapped_column(String(253))
    server: Mapped[str] = mapped_column(String(2048))
    credentials: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(32), default="unknown")
    state_message: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[str] = mapped_column(String(64), default="")
    created: Mapped[dt.datetime]
    updated: Mapped[dt.datetime]


class ClusterGroup(Base):
    __tablename__ = "cluster_groups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    selector: Mapped[dict[str, Any]] = mapped_column(default=dict)
    description: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[dt.datetime]


class CaseTemplate(Base):
    __tablename__ = "case_templates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    entry_point: Mapped[str | None] = mapped_column(String(255))
    image: Mapped[str | None] = mapped_column(String(512))
    command: Mapped[list[Any]] = mapped_column(default=list)
    params_schema: Mapped[dict[str, Any]] = mapped_column(default=dict)
    timeout_seconds: Mapped[float] = mapped_column(Float)
    description: Mapped[str] = mapped_column(Text, default="")
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    rbac_rules: Mapped[list[Any]] = mapped_column(default=list)
    created: Mapped[dt.datetime]


class Case(Base):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("case_templates.id", ondelete="RESTRICT"))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    description: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[dt.datetime]


class Suite(Base):
    __tablename__ = "suites"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[dt.datetime]


class SuiteCase(Base):
    __tablename__ = "suite_cases"
    suite_id: Mapped[int] = mapped_column(ForeignKey("suites.id", ondelete="CASCADE"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Binding(Base):
    __tablename__ = "bindings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    suite_id: Mapped[int | None] = mapped_column(ForeignKey("suites.id", ondelete="RESTRICT"))
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("cluster_groups.id", ondelete="RESTRICT"))
    interval_seconds: Mapped[float | None] = mapped_column(Float)
    jitter_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    cron: Mapped[str | None] = mapped_column(String(128))
    events: Mapped[list[Any]] = mapped_column(default=list)
    timeout_seconds: Mapped[float | None] = mapped_column(Float)
    concurrency: Mapped[str] = mapped_column(String(16), default="forbid")
    severity: Mapped[str] = mapped_column(String(16), default="medium")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    watch: Mapped[list[Any]] = mapped_column(default=list)
    created: Mapped[dt.datetime]


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


class LatencyBuckets:
    """Counts of runs per latency bucket (see LATENCY_BUCKETS_MS); sums of them merge exactly."""

    le_10_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    le_25_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    le_50_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    le_100_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    le_250_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    le_500_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    le_1000_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    le_2500_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    le_5000_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    le_10000_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    le_25000_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    le_60000_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    le_150000_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    le_300000_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    le_600000_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    le_inf_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Rollup(LatencyBuckets, Base):
    """Finished runs of one case on one cluster in one hour (by finish time)."""

    __tablename__ = "rollups"
    __table_args__ = (Index(None, "cluster_id", "hour"), Index(None, "hour"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"), primary_key=True)
    hour: Mapped[dt.datetime] = mapped_column(primary_key=True)
    runs: Mapped[int] = mapped_column(Integer)
    failures: Mapped[int] = mapped_column(Integer)
    errors: Mapped[int] = mapped_column(Integer)
    sum_ms: Mapped[float] = mapped_column(Float)
    p50_ms: Mapped[float] = mapped_column(Float)
    p95_ms: Mapped[float] = mapped_column(Float)
    p99_ms: Mapped[float] = mapped_column(Float)
    max_ms: Mapped[float] = mapped_column(Float)


class DailyRollup(LatencyBuckets, Base):
    """The hourly rollups of one UTC day summed: a 30-day view reads cases x 30 rows per cluster."""

    __tablename__ = "daily_rollups"
    __table_args__ = (Index(None, "day"),)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[dt.datetime] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    runs: Mapped[int] = mapped_column(Integer)
    failures: Mapped[int] = mapped_column(Integer)
    errors: Mapped[int] = mapped_column(Integer)
    sum_ms: Mapped[float] = mapped_column(Float)
    max_ms: Mapped[float] = mapped_column(Float)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[dt.datetime]
    expires: Mapped[dt.datetime | None]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    resource: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CenterState(Base):
    """Small shared values (the rollup watermark) that replicas update under a row lock."""

    __tablename__ = "center_state"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class, typed as one (for bulk inserts)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


__all__ = [
    "BUCKET_COLUMNS",
    "LATENCY_BUCKETS_MS",
    "ApiToken",
    "AuditEntry",
    "Base",
    "Binding",
    "Case",
    "CaseStatus",
    "CaseTemplate",
    "CenterState",
    "Cluster",
    "ClusterGroup",
    "DailyRollup",
    "LatencyBuckets",
    "Rollup",
    "Run",
    "RunFinding",
    "Suite",
    "SuiteCase",
    "table_of",
]


# -- run analysis (issue 8): appended here so the migrations' metadata sees them ----------------


class RunAnalysis(Base):
    """The analysis of one finished run: claimed by one center replica, then its verdict.

    ``state`` is ``claimed`` while a replica works on it (``claimed_at`` is its lease: a claim
    older than the lease is taken over, so a crash is retried) and ``done`` after.
    """

    __tablename__ = "run_analysis"
    __table_args__ = (Index(None, "state", "claimed_at"),)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    claimed_by: Mapped[str] = mapped_column(String(64))
    claimed_at: Mapped[dt.datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    finished: Mapped[dt.datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))
    cause: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str | None] = mapped_column(String(32))
    rule: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[str | None] = mapped_column(String(4))
    action: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    verification: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class RcaFeedback(Base):
    """An operator's correction: run → the cause it really was; the classifier trains on these."""

    __tablename__ = "rca_feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    cause: Mapped[str] = mapped_column(String(64))
    failure: Mapped[dict[str, Any]] = mapped_column(default=dict)
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[dt.datetime]


# alerting's tables join Base.metadata (they import Base from here, so they come last)
from kubeprobe.center.store import alerting_tables as _alerting_tables  # noqa: E402, F401
