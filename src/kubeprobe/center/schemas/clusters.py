"""API models of clusters and cluster groups."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from kubeprobe.center.schemas.common import (
    Input,
    Labels,
    Name,
    Text,
)


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
