"""Routes for change events (CloudEvents in) and release gates."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from kubeprobe.center.api.deps import Operator, StoreDep, Viewer
from kubeprobe.center.errors import AuthenticationError, InvalidInputError, NotFoundError
from kubeprobe.center.run_schemas import ReportIn
from kubeprobe.center.scheduling import Target, expand, start_runs
from kubeprobe.center.schemas import Input, Name
from kubeprobe.center.store import runs
from kubeprobe.center.store.common import by_name, utcnow
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.tables import Case, Cluster, Run
from kubeprobe.center.store.tokens import authenticate
from kubeprobe.center.triggers import events
from kubeprobe.model import RunState, Trigger

router = APIRouter(prefix="/api/v1")
COALESCE_SECONDS = 30.0


class EventAccepted(BaseModel):
    event: str
    cluster: str
    runs: list[str]
    coalesced: int = Field(
        description="cases skipped because an event run for them started within the window"
    )


class GateIn(Input):
    cluster: Name
    change_id: str = Field(min_length=1, max_length=128, description="the release or change this gate guards")


class GateRun(BaseModel):
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


def _wake(request: Request) -> None:
    wake = getattr(request.app.state, "dispatch_wake", None)
    if wake is not None:
        wake.set()


async def _cluster_id(store: Store, name: str) -> int:
    async with store.transaction() as session:
        cluster = await by_name(session, Cluster, name, "cluster", field="cluster")
        return cluster.id


async def _recent_event_runs(
    store: Store, cluster_id: int, case_ids: set[int], since: dt.datetime
) -> set[int]:
    async with store.transaction() as session:
        rows = await session.execute(
            select(Run.case_id).where(
                Run.cluster_id == cluster_id,
                Run.case_id.in_(case_ids),
                Run.trigger == str(Trigger.EVENT),
                Run.created >= since,
            )
        )
        return set(rows.scalars())


@router.post("/events", status_code=202, response_model=EventAccepted, tags=["triggers"])
async def post_event(body: dict[str, Any], who: Operator, store: StoreDep, request: Request) -> EventAccepted:
    """A CloudEvents 1.0 change event (structured JSON): runs the cases bound to its cluster for its type."""
    try:
        event = events.parse(body)
    except events.EventError as exc:
        raise InvalidInputError(str(exc)) from exc
    cluster_id = await _cluster_id(store, event.cluster)
    candidates = await expand(store, only_cluster=cluster_id, periodic=False)
    by_case: dict[int, Target] = {}
    for t in candidates:
        if events.matches(list(t.events), event.type):
            by_case.setdefault(t.case_id, t)
    recent = await _recent_event_runs(
        store, cluster_id, set(by_case), utcnow() - dt.timedelta(seconds=COALESCE_SECONDS)
    )
    fresh = [t for case_id, t in by_case.items() if case_id not in recent]
    details: dict[str, object] = {"event": {"id": event.id, "type": event.type, "source": event.source}}
    started = await start_runs(store, fresh, Trigger.EVENT, details=details)
    _wake(request)
    return EventAccepted(event=event.id, cluster=event.cluster, runs=started, coalesced=len(recent))


class WatchStatus(BaseModel):
    cluster: str
    resource: str = Field(description="resource.group/namespace[/name][?selector]; namespace * is all")
    targets: int = Field(description="(binding, case) pairs that a change here runs")
    state: str = Field(description="starting, watching, retrying (with back-off), or error")
    message: str


@router.get("/watches", response_model=list[WatchStatus], tags=["triggers"])
async def list_watches(who: Viewer, request: Request) -> list[WatchStatus]:
    """The watches the center keeps for bindings with ``watch``, and how each is doing (empty when
    this center does not dispatch)."""
    manager = getattr(request.app.state, "watches", None)
    return [WatchStatus(**w) for w in manager.status()] if manager is not None else []


class KuberhealthyReport(BaseModel):
    """Kuberhealthy's check report, as its own client sends it."""

    OK: bool
    Errors: list[str] = Field(default_factory=list)


@router.post("/kuberhealthy/report", tags=["runs"])
async def kuberhealthy_report(body: KuberhealthyReport, request: Request, store: StoreDep) -> dict[str, str]:
    """Kuberhealthy compatibility: ``{"OK", "Errors"}`` with the ``kh-run-uuid`` header, which carries
    the run's report token (KH_RUN_UUID), so it proves the run as a bearer token would."""
    token = request.headers.get("kh-run-uuid", "")
    if not token:
        raise AuthenticationError("missing kh-run-uuid header (the KH_RUN_UUID of the run)")
    async with store.transaction() as session:
        who = await authenticate(session, token)
        if who.run_id is None:
            raise AuthenticationError("kh-run-uuid is not a run's report token")
        messages = [e for e in body.Errors if e.strip()] or (
            [] if body.OK else ["check failed without an error"]
        )
        accepted, run = await runs.report_run(
            session, who.run_id, ReportIn(ok=body.OK, messages=messages), who
        )
    return {"run": run.id, "state": run.state, "accepted": str(accepted).lower()}


@router.post("/gates", status_code=201, response_model=GateOut, tags=["gates"])
async def open_gate(body: GateIn, who: Operator, store: StoreDep, request: Request) -> GateOut:
    """Run every case bound to the cluster for this change; poll the gate for pass or block."""
    cluster_id = await _cluster_id(store, body.cluster)
    if await _gate_runs(store, body.cluster, body.change_id):
        raise InvalidInputError(f"gate {body.change_id!r} for cluster {body.cluster!r} exists already")
    by_case: dict[int, Target] = {}
    for t in await expand(store, only_cluster=cluster_id, periodic=False):
        by_case.setdefault(t.case_id, t)
    if not by_case:
        raise InvalidInputError(
            f"no cases are bound to cluster {body.cluster!r}: bind some before gating on it"
        )
    gate_targets = [
        Target(t.binding_id, t.case_id, t.cluster_id, None, None, 0.0, t.timeout, "allow")
        for t in by_case.values()
    ]
    await start_runs(store, gate_targets, Trigger.GATE, details={"gate": body.change_id})
    _wake(request)
    return await get_gate(body.cluster, body.change_id, who, store)


async def _gate_runs(store: Store, cluster: str, change_id: str) -> list[GateRun]:
    async with store.transaction() as session:
        cluster_row = await by_name(session, Cluster, cluster, "cluster", field="cluster")
        rows = await session.execute(
            select(Run, Case.name)
            .join(Case, Case.id == Run.case_id)
            .where(Run.cluster_id == cluster_row.id, Run.trigger == str(Trigger.GATE))
            .order_by(Run.created)
        )
        return [
            GateRun(id=r.id, case=name, state=r.state, messages=list(r.messages or []))
            for r, name in rows.all()
            if (r.details or {}).get("gate") == change_id
        ]


@router.get("/gates/{cluster}/{change_id}", response_model=GateOut, tags=["gates"])
async def get_gate(cluster: str, change_id: str, who: Viewer, store: StoreDep) -> GateOut:
    """``pending`` while any run is unfinished; ``pass`` when all succeeded; else ``block``
    (an ``error`` blocks too: a release cannot pass on a cluster whose probes could not run)."""
    runs = await _gate_runs(store, cluster, change_id)
    if not runs:
        raise NotFoundError(f"no gate {change_id!r} for cluster {cluster!r}")
    if any(not RunState(r.state).terminal for r in runs):
        state = "pending"
    elif all(r.state == RunState.SUCCEEDED for r in runs):
        state = "pass"
    else:
        state = "block"
    failing = [r for r in runs if RunState(r.state).terminal and r.state != RunState.SUCCEEDED]
    return GateOut(gate=change_id, cluster=cluster, state=state, runs=runs, failing=failing)
