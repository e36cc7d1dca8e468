"""Pydantic models of the resident operator's reports: state changes and periodic summaries.

A batch is checked on a fast path first (:func:`parse_resident_batch`: TypedDicts that
pydantic-core validates straight from the body's bytes, without calling Python per report, then
one plain loop for the rules that span fields); a batch it refuses is validated again by the
models, so the error a client sees is the models' own.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, NotRequired

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from typing_extensions import TypedDict

from kubeprobe.center.schemas.common import Input, Name
from kubeprobe.model import Severity

ResidentState = Literal["healthy", "degraded", "failing", "unknown"]
Text = Annotated[str, StringConstraints(max_length=8192)]
Key = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
Config = Annotated[str, StringConstraints(min_length=3, max_length=253)]
ProbeName = Annotated[str, StringConstraints(min_length=1, max_length=63)]
Count = Annotated[int, Field(ge=0, le=10**12)]
Millis = Annotated[float, Field(ge=0, le=1e10)]
LatencyName = Literal["p50", "p95", "p99", "max"]


class ResidentReportIn(Input):
    """One report of a ProbeConfig: ``state`` (a change, sent at once) or ``summary`` (a period)."""

    key: Key = Field(description="idempotency key: a report whose key is stored already changes nothing")
    kind: Literal["state", "summary"]
    cluster: Name
    case: Name
    config: Config = Field(description="namespace/name of the ProbeConfig")
    probe: ProbeName
    severity: Severity = Severity.MEDIUM
    at: AwareDatetime
    state: ResidentState
    previous: ResidentState | None = None
    reason: Text = ""
    message: Text = ""
    duration_ms: float | None = Field(None, ge=0, le=1e10)
    consecutive_failures: Count = 0
    success_ratio: float | None = Field(None, ge=0, le=1)
    suppressed: Count = Field(0, description="older state changes replaced by this one (budget)")
    period_start: AwareDatetime | None = None
    period_end: AwareDatetime | None = None
    runs: Count = 0
    ok: Count = 0
    failed: Count = 0
    errors: Count = 0
    latency_ms: dict[LatencyName, Millis] = Field(default_factory=dict)

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


class ResidentRow(TypedDict):
    """One report as the fast path returns it: the fields of :class:`ResidentReportIn`, absent
    optional ones left out (read them with ``.get(name, default)``)."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]
    key: Key
    kind: Literal["state", "summary"]
    cluster: Name
    case: Name
    config: Config
    probe: ProbeName
    severity: NotRequired[Severity]
    at: AwareDatetime
    state: ResidentState
    previous: NotRequired[ResidentState | None]
    reason: NotRequired[Text]
    message: NotRequired[Text]
    duration_ms: NotRequired[Annotated[float, Field(ge=0, le=1e10)] | None]
    consecutive_failures: NotRequired[Count]
    success_ratio: NotRequired[Annotated[float, Field(ge=0, le=1)] | None]
    suppressed: NotRequired[Count]
    period_start: NotRequired[AwareDatetime | None]
    period_end: NotRequired[AwareDatetime | None]
    runs: NotRequired[Count]
    ok: NotRequired[Count]
    failed: NotRequired[Count]
    errors: NotRequired[Count]
    latency_ms: NotRequired[dict[LatencyName, Millis]]


class _BatchRows(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]
    reports: Annotated[list[ResidentRow], Field(min_length=1)]


_ROWS = TypeAdapter(_BatchRows)


def _consistent(row: ResidentRow) -> bool:
    """The rules :meth:`ResidentReportIn._consistent` checks, on a row."""
    if row["kind"] != "summary":
        return True
    start, end = row.get("period_start"), row.get("period_end")
    counts = row.get("ok", 0) + row.get("failed", 0) + row.get("errors", 0)
    return start is not None and end is not None and end >= start and counts == row.get("runs", 0)


def parse_resident_batch(body: bytes) -> list[ResidentRow]:
    """The reports of a POST /resident/reports body, checked as :class:`ResidentBatch` checks them.
    Raises the ValidationError that ResidentBatch itself raises for that body."""
    try:
        rows = _ROWS.validate_json(body)["reports"]
        if not all(_consistent(row) for row in rows):
            raise ValueError("inconsistent summary")
    except (ValidationError, ValueError):
        batch = ResidentBatch.model_validate_json(body)  # raises with the models' own message
        # the models took what the fast path refused: take theirs (never be stricter than them)
        return [r.model_dump(exclude_none=True) for r in batch.reports]  # type: ignore[misc]
    return rows


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
