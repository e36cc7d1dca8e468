"""Routes of alerting: incidents (list, show, acknowledge), receivers and routes (silences:
api/silences.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from kubeprobe.center.api.deps import Admin, BoxDep, Operator, StoreDep, Viewer
from kubeprobe.center.errors import InvalidInputError
from kubeprobe.center.schemas.alerting import (
    AckIn,
    IncidentDetail,
    IncidentPage,
    ReceiverIn,
    ReceiverOut,
    RouteIn,
    RouteOut,
)
from kubeprobe.center.store import incident_log, routing

router = APIRouter(prefix="/api/v1")
NO_CONTENT = Response(status_code=204)
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/incidents", response_model=IncidentPage, tags=["incidents"])
async def list_incidents(
    *,
    who: Viewer,
    store: StoreDep,
    state: Annotated[
        str | None, Query(description="firing, acknowledged, resolved, or open (not resolved)")
    ] = None,
    cluster: str | None = None,
    case: str | None = None,
    cause: str | None = None,
    priority: Annotated[str | None, Query(pattern="^P[1-4]$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="the 'next' of the previous page")
    ] = None,
) -> IncidentPage:
    """Incidents, newest first."""
    async with store.transaction() as s:
        items = await incident_log.list_incidents(
            s,
            state=state,
            cluster=cluster,
            case=case,
            cause=cause,
            priority=priority,
            limit=limit,
            before=before,
        )
    return IncidentPage(items=items, next=str(items[-1].id) if len(items) == limit else None)


@router.get("/incidents/{incident_id}", response_model=IncidentDetail, tags=["incidents"])
async def show_incident(incident_id: Id, who: Viewer, store: StoreDep) -> IncidentDetail:
    """One incident with its latest signals, its deliveries and (fleet) its cluster incidents."""
    async with store.transaction() as s:
        return await incident_log.show_incident(s, incident_id)


@router.post("/incidents/{incident_id}/ack", response_model=IncidentDetail, tags=["incidents"])
async def ack_incident(
    incident_id: Id, who: Operator, store: StoreDep, body: AckIn | None = None
) -> IncidentDetail:
    """Acknowledge: reminders stop, and the receivers that were told hear who has it."""
    async with store.transaction() as s:
        routes = await routing.route_table(s)
        return await incident_log.ack_incident(s, incident_id, who, routes, body.comment if body else "")


# --- silences ------------------------------------------------------------------------------------


def _same_name(path: str, body: str) -> None:
    if path != body:
        raise InvalidInputError(f"name: the body names {body!r} but the path {path!r}", field="name")


@router.post("/receivers", status_code=201, response_model=ReceiverOut, tags=["receivers"])
async def create_receiver(body: ReceiverIn, who: Admin, store: StoreDep, box: BoxDep) -> ReceiverOut:
    """A receiver; its secrets are checked, encrypted and never returned (only their names)."""
    async with store.transaction() as s:
        return await routing.put_receiver(s, box, body, who, create=True)


@router.get("/receivers", response_model=list[ReceiverOut], tags=["receivers"])
async def list_receivers(who: Admin, store: StoreDep, box: BoxDep) -> list[ReceiverOut]:
    async with store.transaction() as s:
        return await routing.list_receivers(s, box)


@router.get("/receivers/{name}", response_model=ReceiverOut, tags=["receivers"])
async def get_receiver(name: str, who: Admin, store: StoreDep, box: BoxDep) -> ReceiverOut:
    async with store.transaction() as s:
        return await routing.get_receiver(s, box, name)


@router.put("/receivers/{name}", response_model=ReceiverOut, tags=["receivers"])
async def replace_receiver(
    name: str, body: ReceiverIn, who: Admin, store: StoreDep, box: BoxDep
) -> ReceiverOut:
    """Replace a receiver; secrets left out keep their stored values (same kind)."""
    _same_name(name, body.name)
    async with store.transaction() as s:
        return await routing.put_receiver(s, box, body, who, create=False)


@router.delete("/receivers/{name}", status_code=204, tags=["receivers"])
async def delete_receiver(name: str, who: Admin, store: StoreDep) -> Response:
    async with store.transaction() as s:
        await routing.delete_receiver(s, name, who)
    return NO_CONTENT


@router.post("/routes", status_code=201, response_model=RouteOut, tags=["routes"])
async def create_route(body: RouteIn, who: Admin, store: StoreDep) -> RouteOut:
    async with store.transaction() as s:
        return await routing.put_route(s, body, who, create=True)


@router.get("/routes", response_model=list[RouteOut], tags=["routes"])
async def list_routes(who: Admin, store: StoreDep) -> list[RouteOut]:
    """Routes in the order they are tried."""
    async with store.transaction() as s:
        return await routing.list_routes(s)


@router.put("/routes/{name}", response_model=RouteOut, tags=["routes"])
async def replace_route(name: str, body: RouteIn, who: Admin, store: StoreDep) -> RouteOut:
    _same_name(name, body.name)
    async with store.transaction() as s:
        return await routing.put_route(s, body, who, create=False)


@router.delete("/routes/{name}", status_code=204, tags=["routes"])
async def delete_route(name: str, who: Admin, store: StoreDep) -> Response:
    async with store.transaction() as s:
        await routing.delete_route(s, name, who)
    return NO_CONTENT
