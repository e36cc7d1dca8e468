"""Routes of triggers: change events (CloudEvents in), the watches' status, and Kuberhealthy's
check report (gates: api/gates.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request

from kubeprobe.center.api.deps import Operator, StoreDep, Viewer, wake_dispatcher
from kubeprobe.center.errors import AuthenticationError, InvalidInputError
from kubeprobe.center.schemas.runs import ReportIn
from kubeprobe.center.schemas.triggers import EventAccepted, KuberhealthyReport, WatchStatus
from kubeprobe.center.store import clusters, runs
from kubeprobe.center.store.common import utcnow
from kubeprobe.center.store.pending import start_runs
from kubeprobe.center.store.targets import expand
from kubeprobe.center.store.tokens import authenticate
from kubeprobe.center.triggers import events
from kubeprobe.center.triggers.targets import Target
from kubeprobe.model import Trigger

router = APIRouter(prefix="/api/v1")
COALESCE_SECONDS = 30.0


@router.post("/events", status_code=202, response_model=EventAccepted, tags=["triggers"])
async def post_event(body: dict[str, Any], who: Operator, store: StoreDep, request: Request) -> EventAccepted:
    """A CloudEvents 1.0 change event (structured JSON): runs the cases bound to its cluster for its type."""
    try:
        event = events.parse(body)
    except events.EventError as exc:
        raise InvalidInputError(str(exc)) from exc
    cluster_id = await clusters.cluster_id(store, event.cluster)
    candidates = await expand(store, only_cluster=cluster_id, periodic=False)
    by_case: dict[int, Target] = {}
    for t in candidates:
        if events.matches(list(t.events), event.type):
            by_case.setdefault(t.case_id, t)
    recent = await runs.event_runs_since(
        store, cluster_id, set(by_case), utcnow() - dt.timedelta(seconds=COALESCE_SECONDS)
    )
    fresh = [t for case_id, t in by_case.items() if case_id not in recent]
    details: dict[str, object] = {"event": {"id": event.id, "type": event.type, "source": event.source}}
    started = await start_runs(store, fresh, Trigger.EVENT, details=details)
    wake_dispatcher(request)
    return EventAccepted(event=event.id, cluster=event.cluster, runs=started, coalesced=len(recent))


@router.get("/watches", response_model=list[WatchStatus], tags=["triggers"])
async def list_watches(who: Viewer, request: Request) -> list[WatchStatus]:
    """The watches the center keeps for bindings with ``watch``, and how each is doing (empty when
    this center does not dispatch)."""
    manager = getattr(request.app.state, "watches", None)
    return [WatchStatus(**w) for w in manager.status()] if manager is not None else []


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
        report = ReportIn(ok=body.OK, messages=body.messages())
        accepted, run = await runs.report_run(session, who.run_id, report, who)
    return {"run": run.id, "state": run.state, "accepted": str(accepted).lower()}
