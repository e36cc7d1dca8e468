"""API models of the dashboard's read routes: who am I, the compact fleet matrix, a cluster's history
and findings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field


class WhoAmI(BaseModel):
    name: str
    role: str


class FleetCluster(BaseModel):
    name: str
    labels: dict[str, Any]
    state: str


class FleetGroup(BaseModel):
    name: str
    selector: dict[str, Any]


class FleetOut(BaseModel):
    clusters: list[FleetCluster]
    cases: list[str]
    groups: list[FleetGroup]
    states: str = Field(
        description=(
            "one character per cluster x case, row-major by cluster (row i, column j at "
            "i * len(cases) + j): s succeeded, f failed, t timed_out, e error, c cancelled, . no run yet"
        )
    )


class HourOut(BaseModel):
    hour: dt.datetime
    runs: int
    failures: int
    errors: int
    success_ratio: float | None = Field(description="succeeded / (runs - errors) in that hour")
    avg_ms: float | None
    p95_ms: float | None


class FindingRow(BaseModel):
    case: str
    run: str
    finished: dt.datetime
    check_id: str
    severity: str
    object: dict[str, Any] | None
    message: str
    hint: str
