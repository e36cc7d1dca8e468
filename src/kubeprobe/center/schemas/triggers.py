"""API models of triggers: change events accepted, watches' status, and Kuberhealthy's check report."""

from __future__ import annotations

from pydantic import BaseModel, Field


class EventAccepted(BaseModel):
    event: str
    cluster: str
    runs: list[str]
    coalesced: int = Field(
        description="cases skipped because an event run for them started within the window"
    )


class WatchStatus(BaseModel):
    cluster: str
    resource: str = Field(description="resource.group/namespace[/name][?selector]; namespace * is all")
    targets: int = Field(description="(binding, case) pairs that a change here runs")
    state: str = Field(description="starting, watching, retrying (with back-off), or error")
    message: str


class KuberhealthyReport(BaseModel):
    """Kuberhealthy's check report, as its own client sends it."""

    OK: bool
    Errors: list[str] = Field(default_factory=list)
