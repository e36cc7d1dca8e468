"""API models of run analysis: a run's diagnosed cause, evidence, verification, and operators' corrections."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from kubeprobe.center.schemas.common import Input


class AnalysisOut(BaseModel):
    run_id: str
    state: str = Field(description="pending (not analysed yet), claimed (in progress) or done")
    attempts: int | None = None
    finished: dt.datetime | None = None
    outcome: str | None = Field(None, description="failed, flake, passed, or error (analysis failed)")
    cause: str | None = Field(None, description="a root-cause label of DESIGN.md")
    confidence: float | None = None
    source: str | None = Field(None, description="rule, classifier or rule+classifier")
    rule: str | None = None
    priority: str | None = Field(None, description="P1 (worst) .. P4")
    action: str | None = Field(None, description="self-heal, page, notify or record")
    reason: str | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)
    verification: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    feedback: list[dict[str, Any]] = Field(default_factory=list, description="operators' corrections")


class FeedbackIn(Input):
    cause: str = Field(min_length=1, max_length=64, description="the cause it really was (a DESIGN.md label)")


class FeedbackOut(BaseModel):
    run_id: str
    cause: str
    failure: dict[str, Any]
