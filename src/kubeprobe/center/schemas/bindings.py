"""API models of bindings: which cases run on which clusters, when (interval, cron, events, watches)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, Field, StringConstraints, field_validator, model_validator

from kubeprobe.center.schemas.common import (
    Concurrency,
    Input,
    Name,
)
from kubeprobe.model import Severity


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
    error: str | None = Field(
        None, description="why the scheduler skips it (cleared when it works again); null: scheduled"
    )
