"""Tables of hourly and daily rollups (latencies counted in the fixed buckets of LATENCY_BUCKETS_MS,
so hours add up to days exactly) and the center's small key-value state (rollup watermarks)."""

from __future__ import annotations

import datetime as dt

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


class CenterState(Base):
    """Small shared values (the rollup watermark) that replicas update under a row lock."""

    __tablename__ = "center_state"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
