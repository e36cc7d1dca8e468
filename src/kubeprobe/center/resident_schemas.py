"""Pydantic models of the resident operator's reports: state changes and periodic summaries."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints, model_validator

from kubeprobe.center.schemas import Input, Name
from kubeprobe.model import Severity

ResidentState = Literal["healthy", "degraded", "failing", "unknown"]
Text = Annotated[str, StringConstraints(max_length=8192)]


class ResidentReportIn(Input):
    """One report of a ProbeConfig: ``state`` (a change, sent at once) or ``summary`` (a period)."""

    key: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")] = Field(
        description="idempotency key: a report whose key is stored already changes nothing"
    )
    kind: Literal["state", "summary"]
    cluster: Name
    case: Name
    config: Annotated[str, StringConstraints(min_length=3, max_length=253)] = Field(
        description="namespace/name of the ProbeConfig"
    )
    probe: Annotated[str, StringConstraints(min_length=1, max_length=63)]
    severity: Severity = Severity.MEDIUM
    at: AwareDatetime
    state: ResidentState
    previous: ResidentState | None = None
    reason: Text = ""
    message: Text = ""
    duration_ms: float | None = Field(None, ge=0, le=1e10)
    consecutive_failures: int = Field(0, ge=0)
    success_ratio: float | None = Field(None, ge=0, le=1)
    suppressed: int = Field(0, ge=0, description="older state changes replaced by this one (budget)")
    period_start: AwareDatetime | None = None
    period_end: AwareDatetime | None = None
    runs: int = Field(0, ge=0)
    ok: int = Field(0, ge=0)
    failed: int = Field(0, ge=0)
    errors: int = Field(0, ge=0)
    latency_ms: dict[Literal["p50", "p95", "p99", "max"], float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> ResidentReportIn:
        if self.kind == "summary":
            if self.period_start is None or self.period_end is None:
                raise ValueError("a summary needs period_start and period_end")
            if self.period_end < self.period_start:
                raise ValueError("period_end must not be before period_start")
            if self.ok + self.failed + self.errors != self.runs:
                raise ValueError("runs must equal ok + failed + errors")
        return self


class ResidentBatch(Input):
    reports: list[ResidentReportIn] = Field(min_length=1)


class ResidentAccepted(BaseModel):
    accepted: int
    duplicates: int


class ResidentReportOut(BaseModel):
    key: str
    kind: str
    cluster: str
    case: str
    config: str
    state: str
    previous: str | None
    at: dt.datetime
    received: dt.datetime
    body: dict[str, Any]
