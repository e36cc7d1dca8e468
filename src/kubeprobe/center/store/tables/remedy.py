"""Tables of remediation: the defender's shared state (one row, compare-and-set on ``version``)
and its append-only audit (rows are inserted, never updated or deleted)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kubeprobe.center.store.tables.base import Base


class DefenderStateRow(Base):
    __tablename__ = "remedy_defender_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int]
    state: Mapped[dict[str, Any]] = mapped_column(JSON)


class RemedyAuditRow(Base):
    __tablename__ = "remedy_audit"
    __table_args__ = (Index(None, "request_id"), Index(None, "cluster", "seq"))
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float)
    event: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[str] = mapped_column(String(253))
    cluster: Mapped[str] = mapped_column(String(253))
    record: Mapped[dict[str, Any]] = mapped_column(JSON)


class RemediationRow(Base):
    """One remediation: proposed → awaiting-approval → approved → running → verified | failed |
    denied | ... . State changes are conditional UPDATEs, so an approval or a claim happens once."""

    __tablename__ = "remedy_remediations"
    __table_args__ = (Index(None, "state"), Index(None, "incident_id"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cluster: Mapped[str] = mapped_column(String(253))
    action: Mapped[str] = mapped_column(String(63))
    kind: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(253))
    namespace: Mapped[str] = mapped_column(String(253))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    mode: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(32))
    proposed_by: Mapped[str] = mapped_column(String(253))
    approver: Mapped[str] = mapped_column(String(253))
    created: Mapped[float] = mapped_column(Float)
    updated: Mapped[float] = mapped_column(Float)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: where it came from: the incident and the policy (its version and ladder step); none by hand
    incident_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    policy: Mapped[str] = mapped_column(String(253), default="", server_default="")
    policy_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    step: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
