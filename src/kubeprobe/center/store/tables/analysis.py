"""Tables of run analysis: the verdict of each finished run, and operators' corrections."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kubeprobe.center.store.tables.base import Base


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
