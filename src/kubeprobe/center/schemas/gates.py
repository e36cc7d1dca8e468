"""API models of gates: opening one for a change on a cluster, its runs, its state (pending, pass, block)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from kubeprobe.center.schemas.common import Input, Name


class GateIn(Input):
    cluster: Name
    change_id: str = Field(min_length=1, max_length=128, description="the release or change this gate guards")


class GateRun(BaseModel):
    """One run of a gate (in a gate's state and in gate history alike)."""

    id: str
    case: str
    state: str
    messages: list[str]


class GateOut(BaseModel):
    gate: str
    cluster: str
    state: str = Field(description="pending, pass, or block")
    runs: list[GateRun]
    failing: list[GateRun]


class GateSummary(BaseModel):
    gate: str
    cluster: str
    state: str = Field(description="pending, pass, or block")
    opened: dt.datetime
    finished: dt.datetime | None
    runs: list[GateRun]
