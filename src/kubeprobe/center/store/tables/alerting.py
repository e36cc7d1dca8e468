"""Tables of alerting: incidents and the signals behind them, silences, receivers, routes, and the
durable delivery queue. Part of the one metadata through tables/__init__.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kubeprobe.center.store.tables.base import Base


class IncidentRow(Base):
    __tablename__ = "incidents"
    __table_args__ = (Index(None, "state", "updated"), Index(None, "key", "state"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(400))
    scope: Mapped[str] = mapped_column(String(16))
    cause: Mapped[str] = mapped_column(String(64))
    cluster: Mapped[str | None] = mapped_column(String(63))
    priority: Mapped[str] = mapped_column(String(4))
    state: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    opened: Mapped[dt.datetime]
    updated: Mapped[dt.datetime]
    last_failure: Mapped[dt.datetime]
    resolved_at: Mapped[dt.datetime | None]
    members: Mapped[list[Any]] = mapped_column(default=list)
    cluster_labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    recent_changes: Mapped[list[Any]] = mapped_column(default=list)
    shared: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    notify: Mapped[bool] = mapped_column(Boolean, default=True)
    muted_by: Mapped[int | None] = mapped_column(Integer)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    acked_by: Mapped[str | None] = mapped_column(String(128))
    acked_at: Mapped[dt.datetime | None]
    last_notified: Mapped[dt.datetime | None]
    reminders: Mapped[int] = mapped_column(Integer, default=0)


class IncidentSignal(Base):
    """Every signal alerting saw, with the incident it went to (none for flakes and passes)."""

    __tablename__ = "incident_signals"
    __table_args__ = (Index(None, "at"), Index(None, "cluster", "case", "at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    run_id: Mapped[str] = mapped_column(String(36))
    cluster: Mapped[str] = mapped_column(String(63))
    case: Mapped[str] = mapped_column(String(63))
    outcome: Mapped[str] = mapped_column(String(16))
    cause: Mapped[str] = mapped_column(String(64))
    confidence: Mapped[float] = mapped_column(Float)
    priority: Mapped[str] = mapped_column(String(4))
    action: Mapped[str] = mapped_column(String(16))
    step: Mapped[str | None] = mapped_column(String(128))
    message: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    run_url: Mapped[str] = mapped_column(String(2048), default="")
    recent_changes: Mapped[list[Any]] = mapped_column(default=list)
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime]


class SilenceRow(Base):
    __tablename__ = "silences"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    matchers: Mapped[list[Any]] = mapped_column(default=list)
    mode: Mapped[str] = mapped_column(String(8))
    starts: Mapped[dt.datetime | None]
    ends: Mapped[dt.datetime | None]
    cron: Mapped[str | None] = mapped_column(String(128))
    duration_s: Mapped[float | None] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    comment: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128))
    created: Mapped[dt.datetime]
    #: Why the center skips it (its matchers or schedule no longer validate); None: in use.
    error: Mapped[str | None] = mapped_column(Text, default=None)


class ReceiverRow(Base):
    __tablename__ = "alert_receivers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secrets: Mapped[bytes] = mapped_column(LargeBinary)  # Fernet-encrypted JSON object, never returned
    created: Mapped[dt.datetime]
    updated: Mapped[dt.datetime]
    #: Why its last delivery failed; None once one goes through (or it is replaced).
    error: Mapped[str | None] = mapped_column(Text, default=None)


class RouteRow(Base):
    __tablename__ = "alert_routes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    matchers: Mapped[list[Any]] = mapped_column(default=list)
    priorities: Mapped[list[Any]] = mapped_column(default=list)
    receivers: Mapped[list[Any]] = mapped_column(default=list)
    continue_matching: Mapped[bool] = mapped_column(Boolean, default=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[dt.datetime]
    #: Why the center skips it (its matchers no longer validate); None: in use.
    error: Mapped[str | None] = mapped_column(Text, default=None)


class DeliveryRow(Base):
    """One notification to one receiver: written with the incident change, sent (and retried) later."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (Index(None, "state", "next_attempt"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    receiver: Mapped[str] = mapped_column(String(63))
    event: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt: Mapped[dt.datetime]
    last_error: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]


__all__ = ["DeliveryRow", "IncidentRow", "IncidentSignal", "ReceiverRow", "RouteRow", "SilenceRow"]
