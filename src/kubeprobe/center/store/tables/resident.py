"""The table of resident probes' reports (one row per report; the runs they become are in runs)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kubeprobe.center.store.tables.base import Base


class ResidentReport(Base):
    __tablename__ = "resident_reports"
    __table_args__ = (Index(None, "cluster_id", "case_id", "at"),)
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    # no foreign keys, as runs (see tables.Run): store.common keeps these valid
    cluster_id: Mapped[int]
    case_id: Mapped[int]
    config: Mapped[str] = mapped_column(String(253))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    previous: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[dt.datetime]
    received: Mapped[dt.datetime]
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
