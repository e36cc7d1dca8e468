"""Pydantic models for runs: manual triggers, reports, batched results, run pages and cluster health.

Batched results are checked on a fast path first (`parse_result_batch`: TypedDicts that pydantic-core
validates without calling Python per item); a batch it refuses is validated again by the models, so
the error a client sees is the models' own.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, NotRequired

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from typing_extensions import TypedDict

from kubeprobe.center.schemas.common import AwareTime, Input, Name, RunStateName, TerminalState, TriggerName
from kubeprobe.model import Severity

Message = Annotated[str, StringConstraints(max_length=8192)]
MetricName = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class StepIn(Input):
    name: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    ok: bool
    duration_ms: float = Field(ge=0, le=1e10)
    error: Message | None = None


class ObjectRefIn(Input):
    kind: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    name: Annotated[str, StringConstraints(min_length=1, max_length=253)]
    namespace: Annotated[str, StringConstraints(max_length=253)] | None = None
    api_version: Annotated[str, StringConstraints(max_length=128)] | None = None
    uid: Annotated[str, StringConstraints(max_length=64)] | None = None


class FindingIn(Input):
    check_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    severity: Severity
    object: ObjectRefIn | None = None
    message: Message
    hint: Message = ""
    details: dict[str, Any] = Field(default_factory=dict)


class RunCreate(Input):
    case: Name
    cluster: Name
    timeout_seconds: float | None = Field(None, gt=0, le=86_400)


class ReportIn(Input):
    """A case's report for its own run (DESIGN.md: contract between a case and the center)."""

    ok: bool
    messages: list[Message] = Field(default_factory=list, max_length=1000)
    steps: list[StepIn] = Field(default_factory=list, max_length=1000)
    findings: list[FindingIn] = Field(default_factory=list, max_length=10_000)
    metrics: dict[MetricName, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _failure_says_why(self) -> ReportIn:
        if not self.ok and not any(m.strip() for m in self.messages):
            raise ValueError("ok: false needs at least one non-empty message in messages")
        return self


class ResultIn(Input):
    """One finished run reported in a batch (by the resident operator or a runner)."""

    id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")] | None = Field(
        None, description="32 hex digits; giving it makes a retried batch idempotent"
    )
    case: Name
    cluster: Name
    state: TerminalState
    trigger: TriggerName = "schedule"
    started: AwareTime
    finished: AwareTime
    messages: list[Message] = Field(default_factory=list, max_length=100)
    steps: list[StepIn] = Field(default_factory=list, max_length=100)
    findings: list[FindingIn] = Field(default_factory=list, max_length=1000)
    metrics: dict[MetricName, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> ResultIn:
        if self.finished < self.started:
            raise ValueError("finished must not be before started")
        if self.state != "succeeded" and not any(m.strip() for m in self.messages):
            raise ValueError(f"state {self.state} needs at least one non-empty message in messages")
        return self


class ResultBatch(Input):
    results: list[ResultIn] = Field(min_length=1)


class StepRow(TypedDict):
    """StepIn on the fast path."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]
    name: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    ok: bool
    duration_ms: Annotated[float, Field(ge=0, le=1e10)]
    error: NotRequired[Message | None]


class ResultRow(TypedDict):
    """ResultIn on the fast path: the same fields and limits; findings are checked by FindingIn."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]
    id: NotRequired[Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")] | None]
    case: Name
    cluster: Name
    state: TerminalState
    trigger: NotRequired[TriggerName]
    started: AwareTime
    finished: AwareTime
    messages: NotRequired[Annotated[list[Message], Field(max_length=100)]]
    steps: NotRequired[Annotated[list[StepRow], Field(max_length=100)]]
    findings: NotRequired[Annotated[list[Any], Field(max_length=1000)]]
    metrics: NotRequired[dict[MetricName, float]]


class _BatchRows(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]
    results: Annotated[list[ResultRow], Field(min_length=1)]


_ROWS = TypeAdapter(_BatchRows)
_FINDINGS = TypeAdapter(list[FindingIn])


def parse_result_batch(body: bytes) -> list[ResultRow]:
    """The results of a POST /results body, checked as ResultBatch checks them; `findings` hold
    FindingIn models. Raises the ValidationError that ResultBatch itself raises for that body."""
    try:
        rows = _ROWS.validate_json(body)["results"]
        for row in rows:
            if row["finished"] < row["started"] or (
                row["state"] != "succeeded" and not any(m.strip() for m in row.get("messages", ()))
            ):
                raise ValueError("inconsistent result")
            if row.get("findings"):
                row["findings"] = _FINDINGS.validate_python(row["findings"])
    except (ValidationError, ValueError):
        batch = ResultBatch.model_validate_json(body)  # raises with the models' own message
        # the models took what the fast path refused: take theirs (never be stricter than them)
        taken: list[ResultRow] = []
        for r in batch.results:
            fields: dict[str, Any] = r.model_dump(exclude={"findings"})
            fields["findings"] = list(r.findings)
            taken.append(ResultRow(**fields))  # type: ignore[typeddict-item]
        return taken
    return rows


class BatchAccepted(BaseModel):
    accepted: int
    duplicates: int


class StepOut(BaseModel):
    name: str
    ok: bool
    duration_ms: float
    error: str | None = None


class FindingOut(BaseModel):
    check_id: str
    severity: str
    object: dict[str, Any] | None
    message: str
    hint: str
    details: dict[str, Any]


class RunOut(BaseModel):
    id: str
    case: str
    cluster: str
    binding: str | None
    trigger: str
    state: RunStateName
    created: dt.datetime
    deadline: dt.datetime
    started: dt.datetime | None
    finished: dt.datetime | None
    duration_ms: float | None
    messages: list[str]
    root_cause: str | None


class RunDetail(RunOut):
    metrics: dict[str, Any]
    details: dict[str, Any]
    steps: list[StepOut]
    findings: list[FindingOut]


class RunCreated(RunOut):
    report_token: str = Field(description="valid for this run only, until its deadline; shown once")


class CaseHealth(BaseModel):
    case: str
    last_state: str | None
    last_run: str | None
    last_finished: dt.datetime | None
    runs: int
    failures: int
    errors: int
    success_ratio: float | None = Field(description="succeeded / (succeeded + failed + timed out)")
    latency_avg_ms: float | None
    latency_p95_ms: float | None = Field(
        description="nearest-rank p95 from fixed latency buckets: the upper bound of the bucket that "
        "holds it, at most the window's max (bucket bounds in ms: 10 25 50 100 250 500 1000 2500 5000 "
        "10000 25000 60000 150000 300000 600000)"
    )
    latency_max_ms: float | None = None


class ClusterHealth(BaseModel):
    cluster: str
    state: str
    window_hours: int
    cases: list[CaseHealth]
