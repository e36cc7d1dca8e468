"""Pydantic models at the API's edge: what each resource accepts and what it returns.

Inputs forbid unknown fields, and the error names the field and lists the allowed ones.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from kubeprobe.model import CaseKind, Severity

Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"),
    Field(
        description="lower-case letters, digits and '-', 1-63 characters, starting and ending alphanumeric"
    ),
]
LabelKey = Annotated[
    str, StringConstraints(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9][-A-Za-z0-9_./]*$")
]
LabelValue = Annotated[str, StringConstraints(max_length=63, pattern=r"^[A-Za-z0-9_.-]*$")]
Labels = dict[LabelKey, LabelValue]
Role = Literal["admin", "operator", "viewer"]
Concurrency = Literal["forbid", "replace", "allow"]
TerminalState = Literal["succeeded", "failed", "timed_out", "error", "cancelled"]
RunStateName = Literal[
    "pending", "dispatched", "running", "succeeded", "failed", "timed_out", "error", "cancelled"
]
TriggerName = Literal["schedule", "event", "watch", "manual", "gate"]
Text = Annotated[str, StringConstraints(max_length=4096)]


class Input(BaseModel):
    """Base of every request body: unknown fields are refused with the list of allowed ones."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            allowed = cls.__pydantic_fields__  # a plain dict: `model_fields` is slow on the class
            if not allowed.keys() >= data.keys():
                unknown = sorted(str(k) for k in data if k not in allowed)
                raise ValueError(
                    f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
                )
        return data


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next: str | None = Field(None, description="cursor for the next page; absent on the last page")


# --- clusters and groups ---------------------------------------------------------------------


class ClusterIn(Input):
    name: Name
    kubeconfig: Annotated[str, StringConstraints(min_length=1, max_length=1_000_000)] = Field(
        description="the kubeconfig file's text; stored encrypted, never returned"
    )
    context: Annotated[str, StringConstraints(max_length=253)] | None = None
    labels: Labels = Field(default_factory=dict)


class ClusterUpdate(Input):
    labels: Labels | None = None
    kubeconfig: Annotated[str, StringConstraints(min_length=1, max_length=1_000_000)] | None = None
    context: Annotated[str, StringConstraints(max_length=253)] | None = None


class ClusterOut(BaseModel):
    name: str
    labels: dict[str, str]
    context: str
    server: str
    state: str
    state_message: str
    version: str
    created: dt.datetime
    updated: dt.datetime


class GroupIn(Input):
    name: Name
    selector: Labels = Field(description="matchLabels: a cluster is in the group when it has all of them")
    description: Text = ""


class GroupOut(BaseModel):
    name: str
    selector: dict[str, str]
    description: str
    clusters: list[str]
    created: dt.datetime


# --- templates, cases, suites ----------------------------------------------------------------

Verb = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=r"^([a-z]+|\*)$")]
RbacName = Annotated[str, StringConstraints(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9*.:/_-]*$")]


class PolicyRule(Input):
    """A Kubernetes RBAC PolicyRule (the same field names): what a case may do in its cluster."""

    apiGroups: list[Annotated[str, StringConstraints(max_length=253, pattern=r"^[a-z0-9.*-]*$")]] = Field(
        min_length=1, max_length=50, description="API groups; '' is the core group"
    )
    resources: list[RbacName] = Field(
        min_length=1, max_length=50, description="resource plurals, 'pods/log' for a subresource"
    )
    verbs: list[Verb] = Field(min_length=1, max_length=9)
    resourceNames: list[RbacName] = Field(
        default_factory=list, max_length=50, description="only these objects (empty: all)"
    )

    def as_kube(self) -> dict[str, Any]:
        rule: dict[str, Any] = {
            "apiGroups": list(self.apiGroups),
            "resources": list(self.resources),
            "verbs": list(self.verbs),
        }
        if self.resourceNames:
            rule["resourceNames"] = list(self.resourceNames)
        return rule


class TemplateIn(Input):
    name: Name
    kind: CaseKind
    entry_point: (
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$", max_length=255)] | None
    ) = Field(None, description="package.module:function; give this or image")
    image: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = None
    command: list[Annotated[str, StringConstraints(max_length=4096)]] = Field(default_factory=list)
    params_schema: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON Schema of an object; properties name the parameters, 'default' gives defaults",
    )
    timeout_seconds: float = Field(300.0, gt=0, le=86_400)
    description: Text = ""
    rbac_rules: list[PolicyRule] = Field(
        default_factory=list,
        max_length=100,
        description="RBAC rules the case needs in its cluster; its pod's ServiceAccount gets exactly these",
    )

    @model_validator(mode="after")
    def _one_runtime(self) -> TemplateIn:
        if (self.entry_point is None) == (self.image is None):
            raise ValueError("give exactly one of entry_point (package.module:function) or image")
        if self.entry_point is not None and self.command:
            raise ValueError("command is only for an image; an entry_point takes parameters instead")
        return self


class TemplateOut(BaseModel):
    name: str
    kind: str
    entry_point: str | None
    image: str | None
    command: list[str]
    params_schema: dict[str, Any]
    timeout_seconds: float
    description: str
    builtin: bool
    rbac_rules: list[dict[str, Any]]
    created: dt.datetime


class CaseIn(Input):
    name: Name
    template: Name
    params: dict[str, Any] = Field(default_factory=dict)
    description: Text = ""


class CaseOut(BaseModel):
    name: str
    template: str
    kind: str
    params: dict[str, Any] = Field(description="rendered: given values plus the template's defaults")
    description: str
    created: dt.datetime


class SuiteIn(Input):
    name: Name
    cases: list[Name] = Field(min_length=1, max_length=1000)
    description: Text = ""


class SuiteOut(BaseModel):
    name: str
    cases: list[str]
    description: str
    created: dt.datetime


# --- bindings --------------------------------------------------------------------------------


class WatchIn(Input):
    """Objects whose spec changes trigger the binding, in each cluster it is bound to."""

    resource: Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=r"^[a-z0-9]+$")] = Field(
        description="the resource's plural, lower case: deployments, daemonsets, configmaps"
    )
    api_version: Annotated[
        str, StringConstraints(max_length=253, pattern=r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?v[0-9a-z]+$")
    ] = Field("v1", description="group/version (apps/v1), or v1 for the core group")
    namespace: (
        Annotated[str, StringConstraints(max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")] | None
    ) = Field(None, description="absent: every namespace (or a cluster-scoped resource)")
    name: (
        Annotated[str, StringConstraints(max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")] | None
    ) = Field(None, description="only this object")
    label_selector: Annotated[str, StringConstraints(max_length=1024)] | None = Field(
        None, description="only objects matching this label selector (app=web,tier!=db)"
    )

    @field_validator("resource", mode="before")
    @classmethod
    def _plural(cls, value: Any) -> Any:
        if isinstance(value, str) and not re.fullmatch(r"[a-z0-9]+", value):
            raise ValueError(
                f"{value!r} is not a resource name: give the plural in lower case as the API "
                "names it (deployments, daemonsets, configmaps), not the kind"
            )
        return value

    def key(self) -> str:
        where = self.namespace or "*"
        extra = f"/{self.name}" if self.name else ""
        extra += f"?{self.label_selector}" if self.label_selector else ""
        return f"{self.api_version}:{self.resource}/{where}{extra}"


class BindingIn(Input):
    name: Name
    case: Name | None = None
    suite: Name | None = None
    cluster: Name | None = None
    group: Name | None = None
    interval_seconds: float | None = Field(None, ge=10, le=31 * 86_400)
    jitter_seconds: float = Field(0.0, ge=0, le=86_400)
    cron: Annotated[str, StringConstraints(max_length=128)] | None = None
    events: list[Annotated[str, StringConstraints(min_length=1, max_length=128)]] = Field(
        default_factory=list, max_length=50, description="change-event types that trigger the binding"
    )
    watch: list[WatchIn] = Field(
        default_factory=list,
        max_length=20,
        description="objects in the cluster whose spec changes (new metadata.generation) trigger the binding",
    )
    timeout_seconds: float | None = Field(None, gt=0, le=86_400)
    concurrency: Concurrency = "forbid"
    severity: Severity = Severity.MEDIUM
    enabled: bool = True

    ONE_OF: ClassVar[tuple[tuple[str, str], ...]] = (("case", "suite"), ("cluster", "group"))

    @model_validator(mode="after")
    def _targets(self) -> BindingIn:
        for a, b in self.ONE_OF:
            if (getattr(self, a) is None) == (getattr(self, b) is None):
                raise ValueError(f"give exactly one of {a} or {b}")
        if self.interval_seconds is not None and self.cron is not None:
            raise ValueError("give interval_seconds or cron, not both")
        if self.interval_seconds is None and self.cron is None and not self.events and not self.watch:
            raise ValueError("give a trigger: interval_seconds, cron, events, or watch")
        return self


class BindingOut(BaseModel):
    name: str
    case: str | None
    suite: str | None
    cluster: str | None
    group: str | None
    interval_seconds: float | None
    jitter_seconds: float
    cron: str | None
    events: list[str]
    watch: list[WatchIn]
    timeout_seconds: float | None
    concurrency: str
    severity: str
    enabled: bool
    created: dt.datetime


# --- tokens and audit ------------------------------------------------------------------------


class TokenIn(Input):
    name: Name
    role: Role
    expires_in_days: float | None = Field(None, gt=0, le=3650)


class TokenOut(BaseModel):
    name: str
    role: str
    created: dt.datetime
    expires: dt.datetime | None
    revoked: bool


class TokenCreated(TokenOut):
    token: str = Field(description="shown once; only its hash is stored")


class AuditOut(BaseModel):
    id: int
    at: dt.datetime
    actor: str
    role: str
    action: str
    resource: str
    name: str
    detail: dict[str, Any]
