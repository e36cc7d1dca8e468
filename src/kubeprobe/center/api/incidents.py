"""Routes of alerting: incidents (list, show, acknowledge), silences, receivers and routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from kubeprobe.center.alerting_schemas import (
    IncidentDetail,
    IncidentPage,
    ReceiverIn,
    ReceiverOut,
    RouteIn,
    RouteOut,
    SilenceIn,
    SilenceOut,
)
from kubeprobe.center.api.deps import Admin, BoxDep, Operator, StoreDep, Viewer
from kubeprobe.center.errors import InvalidInputError
from kubeprobe.center.schemas import Input, Text
from kubeprobe.center.store import alert_config
from kubeprobe.center.store import incidents as store_incidents
from kubeprobe.center.store.common import utcnow

router = APIRouter(prefix="/api/v1")
NO_CONTENT = Response(status_code=204)
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


class AckIn(Input):
    comment: Text = ""


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
        items = await store_incidents.list_incidents(
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
        return await store_incidents.show_incident(s, incident_id)


@router.post("/incidents/{incident_id}/ack", response_model=IncidentDetail, tags=["incidents"])
async def ack_incident(
    incident_id: Id, who: Operator, store: StoreDep, body: AckIn | None = None
) -> IncidentDetail:
    """Acknowledge: reminders stop, and the receivers that were told hear who has it."""
    async with store.transaction() as s:
        routes = await alert_config.route_table(s)
        return await store_incidents.ack_incident(s, incident_id, who, routes, body.comment if body else "")


# --- silences ------------------------------------------------------------------------------------


@router.post("/silences", status_code=201, response_model=SilenceOut, tags=["silences"])
async def create_silence(body: SilenceIn, who: Operator, store: StoreDep) -> SilenceOut:
    """A silence (mode mute) or maintenance window (mode pause), one-off or recurring."""
    async with store.transaction() as s:
        return await alert_config.create_silence(s, body, who)


@router.get("/silences", response_model=list[SilenceOut], tags=["silences"])
async def list_silences(
    who: Viewer, store: StoreDep, expired: Annotated[bool, Query(description="include ended ones")] = False
) -> list[SilenceOut]:
    async with store.transaction() as s:
        return await alert_config.list_silences(s, expired=expired)


@router.get("/silences/{silence_id}", response_model=SilenceOut, tags=["silences"])
async def get_silence(silence_id: Id, who: Viewer, store: StoreDep) -> SilenceOut:
    async with store.transaction() as s:
        return alert_config.silence_out(await alert_config.get_silence(s, silence_id), utcnow())


@router.put("/silences/{silence_id}", response_model=SilenceOut, tags=["silences"])
async def update_silence(silence_id: Id, body: SilenceIn, who: Operator, store: StoreDep) -> SilenceOut:
    async with store.transaction() as s:
        return await alert_config.update_silence(s, silence_id, body, who)


@router.delete("/silences/{silence_id}", status_code=204, tags=["silences"])
async def delete_silence(silence_id: Id, who: Operator, store: StoreDep) -> Response:
    async with store.transaction() as s:
        await alert_config.delete_silence(s, silence_id, who)
    return NO_CONTENT


# --- receivers and routes (admin) ----------------------------------------------------------------


def _same_name(path: str, body: str) -> None:
    if path != body:
        raise InvalidInputError(f"name: the body names {body!r} but the path {path!r}", field="name")


@router.post("/receivers", status_code=201, response_model=ReceiverOut, tags=["receivers"])
async def create_receiver(body: ReceiverIn, who: Admin, store: StoreDep, box: BoxDep) -> ReceiverOut:
    """A receiver; its secrets are checked, encrypted and never returned (only their names)."""
    async with store.transaction() as s:
        return await alert_config.put_receiver(s, box, body, who, create=True)


@router.get("/receivers", response_model=list[ReceiverOut], tags=["receivers"])
async def list_receivers(who: Admin, store: StoreDep, box: BoxDep) -> list[ReceiverOut]:
    async with store.transaction() as s:
        return await alert_config.list_receivers(s, box)


@router.get("/receivers/{name}", response_model=ReceiverOut, tags=["receivers"])
async def get_receiver(name: str, who: Admin, store: StoreDep, box: BoxDep) -> ReceiverOut:
    async with store.transaction() as s:
        return await alert_config.get_receiver(s, box, name)


@router.put("/receivers/{name}", response_model=ReceiverOut, tags=["receivers"])
async def replace_receiver(
    name: str, body: ReceiverIn, who: Admin, store: StoreDep, box: BoxDep
) -> ReceiverOut:
    """Replace a receiver; secrets left out keep their stored values (same kind)."""
    _same_name(name, body.name)
    async with store.transaction() as s:
        return await alert_config.put_receiver(s, box, body, who, create=False)


@router.delete("/receivers/{name}", status_code=204, tags=["receivers"])
async def delete_receiver(name: str, who: Admin, store: StoreDep) -> Response:
    async with store.transaction() as s:
        await alert_config.delete_receiver(s, name, who)
    return NO_CONTENT


@router.post("/routes", status_code=201, response_model=RouteOut, tags=["routes"])
async def create_route(body: RouteIn, who: Admin, store: StoreDep) -> RouteOut:
    async with store.transaction() as s:
        return await alert_config.put_route(s, body, who, create=True)


@router.get("/routes", response_model=list[RouteOut], tags=["routes"])
async def list_routes(who: Admin, store: StoreDep) -> list[RouteOut]:
    """Routes in the order they are tried."""
    async with store.transaction() as s:
        return await alert_config.list_routes(s)


@router.put("/routes/{name}", response_model=RouteOut, tags=["routes"])
async def replace_route(name: str, body: RouteIn, who: Admin, store: StoreDep) -> RouteOut:
    _same_name(name, body.name)
    async with store.transaction() as s:
        return await alert_config.put_route(s, body, who, create=False)


@router.delete("/routes/{name}", status_code=204, tags=["routes"])
async def delete_route(name: str, who: Admin, store: StoreDep) -> Response:
    async with store.transaction() as s:
        await alert_config.delete_route(s, name, who)
    return NO_CONTENT
