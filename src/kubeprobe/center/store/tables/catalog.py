"""Tables of what is probed and how: clusters and their groups, case templates, cases, suites, bindings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kubeprobe.center.store.tables.base import Base


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
    #: Why the scheduler skips it (a cron that no longer validates); None: scheduled.
    error: Mapped[str | None] = mapped_column(Text, default=None)
