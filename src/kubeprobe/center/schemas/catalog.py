"""API models of the catalog: case templates (with the RBAC rules of their cases), cases, suites."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, model_validator

from kubeprobe.center.schemas.common import (
    Input,
    Name,
    Text,
)
from kubeprobe.model import CaseKind

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
