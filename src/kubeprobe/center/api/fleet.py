"""Read routes the dashboard needs: who am I, the compact fleet matrix, a cluster's history and open
findings, and gate history. All need a viewer token."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Response

from kubeprobe.center.api.deps import StoreDep, Viewer
from kubeprobe.center.schemas.fleet import FindingRow, FleetCluster, FleetGroup, FleetOut, HourOut, WhoAmI
from kubeprobe.center.schemas.gates import GateSummary
from kubeprobe.center.store import fleet, gates

router = APIRouter(prefix="/api/v1")


@router.get("/whoami", response_model=WhoAmI, tags=["tokens"])
async def whoami(who: Viewer) -> WhoAmI:
    """The caller's token name and role (the dashboard shows or hides actions by it)."""
    return WhoAmI(name=who.name, role=who.role)


@router.get("/fleet", response_model=FleetOut, tags=["clusters"])
async def get_fleet(who: Viewer, store: StoreDep, response: Response) -> FleetOut:
    """Every cluster x bound case with the state of its latest finished run, as one compact string."""
    start = time.perf_counter()
    async with store.transaction() as s:
        matrix = await fleet.fleet_matrix(s)
    response.headers["Server-Timing"] = f"query;dur={(time.perf_counter() - start) * 1000:.1f}"
    return FleetOut(
        clusters=[FleetCluster(**c) for c in matrix.clusters],
        cases=matrix.cases,
        groups=[FleetGroup(**g) for g in matrix.groups],
        states=matrix.states,
    )


@router.get("/clusters/{name}/history", response_model=list[HourOut], tags=["clusters"])
async def cluster_history(
    name: str,
    who: Viewer,
    store: StoreDep,
    hours: Annotated[int, Query(ge=1, le=9600)] = 24,
    case: Annotated[str | None, Query(max_length=63)] = None,
) -> list[HourOut]:
    """Runs, failures, errors and latency per hour, oldest first (hours without runs included)."""
    async with store.transaction() as s:
        points = await fleet.cluster_history(s, name, hours, case)
    return [
        HourOut(
            hour=p.hour,
            runs=p.runs,
            failures=p.failures,
            errors=p.errors,
            success_ratio=(p.runs - p.errors - p.failures) / (p.runs - p.errors)
            if p.runs > p.errors
            else None,
            avg_ms=p.avg_ms,
            p95_ms=p.p95_ms,
        )
        for p in points
    ]


@router.get("/clusters/{name}/findings", response_model=list[FindingRow], tags=["clusters"])
async def cluster_findings(
    name: str, who: Viewer, store: StoreDep, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000
) -> list[FindingRow]:
    """Open findings: those of the latest finished run of each case on the cluster."""
    async with store.transaction() as s:
        return [FindingRow(**f) for f in await fleet.open_findings(s, name, limit)]


@router.get("/gates", response_model=list[GateSummary], tags=["gates"])
async def list_gates(
    who: Viewer,
    store: StoreDep,
    cluster: Annotated[str | None, Query(max_length=63)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[GateSummary]:
    """Gate history, newest first: each gate's state and its runs."""
    async with store.transaction() as s:
        return [GateSummary(**g) for g in await gates.gate_history(s, cluster, limit)]
