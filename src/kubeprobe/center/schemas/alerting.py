"""API models of alerting: incidents (with their signals and deliveries), receivers, routes.

Receivers take their secrets (webhook URLs with tokens, bot tokens, SMTP passwords, routing keys) in
`secrets`; they are stored encrypted and only their names come back, in `secret_fields`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from kubeprobe.center.schemas.common import INT32, Input, Name, Text

IncidentState = Literal["firing", "acknowledged", "resolved"]
Priority = Literal["P1", "P2", "P3", "P4"]


class MemberOut(BaseModel):
    cluster: str
    case: str
    run_id: str
    run_url: str
    step: str | None
    message: str
    first: dt.datetime
    last: dt.datetime
    failures: int
    resolved: bool


class IncidentOut(BaseModel):
    id: int
    title: str = Field(description="one line for people: priority, cause, where")
    key: str = Field(description="cluster/<cluster>/<cause> or fleet/<cause>")
    scope: Literal["case", "cluster", "fleet"]
    state: IncidentState
    silenced: bool = Field(description="a silence muted it: recorded, nobody notified")
    priority: str
    cause: str
    confidence: float
    cluster: str | None = Field(description="none for a fleet incident")
    clusters: list[str]
    cases: list[str]
    opened: dt.datetime
    updated: dt.datetime
    resolved_at: dt.datetime | None
    acked_by: str | None
    acked_at: dt.datetime | None
    shared: str = Field(description="fleet incidents: what the clusters share (changes, or cause/component)")
    reason: str
    parent_id: int | None = Field(description="the fleet incident this one is part of")
    reminders: int
    members: list[MemberOut]


class SignalOut(BaseModel):
    run_id: str
    cluster: str
    case: str
    outcome: str
    cause: str
    confidence: float
    priority: str
    action: str
    step: str | None
    message: str
    run_url: str
    note: str
    at: dt.datetime


class DeliveryOut(BaseModel):
    id: int
    receiver: str
    event: str
    state: Literal["pending", "sent", "failed"]
    attempts: int
    next_attempt: dt.datetime
    last_error: str
    created: dt.datetime
    sent_at: dt.datetime | None


class RemediationNote(BaseModel):
    """A remediation proposed for an incident, as the incident tells it."""

    id: int
    action: str
    target: str
    mode: str
    state: str = Field(description="verified, failed, denied (by the defender) ... or still going")
    policy: str
    reason: str = Field(description="what went wrong, or why the defender said no")


class IncidentDetail(IncidentOut):
    signals: list[SignalOut]
    deliveries: list[DeliveryOut]
    children: list[int] = Field(description="cluster incidents grouped under this fleet incident")
    remediations: list[RemediationNote] = Field(
        default_factory=list, description="what self-healing did about it and how each ended"
    )


class IncidentPage(BaseModel):
    items: list[IncidentOut]
    next: str | None = Field(None, description="cursor for the next page (the last id); absent at the end")


class ReceiverIn(Input):
    name: Name
    kind: Literal["webhook", "slack", "dingtalk", "email", "pagerduty"]
    settings: dict[str, Any] = Field(default_factory=dict, description="non-secret settings of the kind")
    secrets: dict[str, str] = Field(
        default_factory=dict,
        description="encrypted at rest, never returned (URLs with tokens, keys, passwords)",
    )


class ReceiverOut(BaseModel):
    name: str
    kind: str
    settings: dict[str, Any]
    secret_fields: list[str]
    created: dt.datetime
    updated: dt.datetime
    error: str | None = Field(
        None, description="why its last delivery failed; null once one goes through or it is replaced"
    )


class RouteIn(Input):
    name: Name
    position: int = Field(
        0, ge=INT32[0], le=INT32[1], description="routes are tried in ascending position, then name"
    )
    matchers: list[Text] = Field(default_factory=list, description="as for silences; empty: any labels")
    priorities: list[Priority] = Field(default_factory=list, description="empty: any priority")
    receivers: list[Name] = Field(min_length=1)
    continue_matching: bool = Field(False, description="after matching, keep trying later routes")
    is_default: bool = Field(False, description="used when no other route matched (at most one)")


class RouteOut(BaseModel):
    name: str
    position: int
    matchers: list[str]
    priorities: list[str]
    receivers: list[str]
    continue_matching: bool
    is_default: bool
    created: dt.datetime
    error: str | None = Field(
        None, description="why routing skips it (its matchers no longer validate); null: in use"
    )


class AckIn(Input):
    comment: Text = ""
