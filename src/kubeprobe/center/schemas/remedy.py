"""API models of remediations: a proposal in, a remediation out, and what an approve changed."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from kubeprobe.center.schemas.common import Input
from kubeprobe.remedy.defender.requests import Mode


class RemediationIn(Input):
    cluster: str = Field(min_length=1, max_length=253)
    action: str = Field(
        min_length=1, max_length=63, description="a registered action (pod-delete, node-drain ...)"
    )
    name: str = Field(min_length=1, max_length=253, description="the target object's name")
    namespace: str = Field("", max_length=253)
    params: dict[str, Any] = Field(default_factory=dict)
    mode: Mode = Field(
        Mode.APPROVAL, description="shadow records only; approval waits for an approve; auto acts"
    )
    incident_id: int | None = Field(None, ge=1, le=2**31 - 1, description="the incident it answers")


class RemediationOut(BaseModel):
    id: int
    cluster: str
    action: str
    kind: str
    name: str
    namespace: str
    params: dict[str, Any]
    mode: str
    state: str
    proposed_by: str
    approver: str
    created: float
    updated: float
    result: dict[str, Any]
    incident_id: int | None = None
    policy: str = ""
    policy_version: int = 0
    step: int = 0


class ApprovalOut(BaseModel):
    changed: bool = Field(description="false when it was already approved, denied or done: a no-op")
    remediation: RemediationOut


class PauseIn(Input):
    """The kill switch: pause remediation for a cluster and/or action (``*`` for every one)."""

    cluster: str = Field("*", min_length=1, max_length=253)
    action: str = Field("*", min_length=1, max_length=63)
    reason: str = Field("", max_length=1000)


class PreviewOut(BaseModel):
    """What an action would change now, and what the defender would say: nothing is stored."""

    plan: list[str]
    problems: list[str] = Field(description="preconditions that do not hold (it would not act)")
    allowed: bool = Field(description="the defender would grant it now")
    denials: list[str]
    counters: dict[str, float]
