"""Routes of remediations: preview, propose, list, show, approve, deny, and the policies in
force. An approve moves the remediation from awaiting-approval to approved once (a second approve
is a no-op) and starts its execution; a preview (``POST /remediations/preview``) says what an
action would change and what the defender would answer now, and stores nothing."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from kubeprobe.center.api.deps import BoxDep, Operator, StoreDep, Viewer
from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.errors import InvalidInputError, NotFoundError
from kubeprobe.center.schemas.remedy import ApprovalOut, PauseIn, PreviewOut, RemediationIn, RemediationOut
from kubeprobe.center.services.remediation import preview
from kubeprobe.center.services.self_healing import SelfHealing
from kubeprobe.center.store import remediations
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.remedy import SqlDefenderStore
from kubeprobe.remedy.actions import ACTIONS
from kubeprobe.remedy.defender import Defender, Mode
from kubeprobe.remedy.errors import ActionError, RemedyError, UnknownRemediationError
from kubeprobe.remedy.policies import Policy

router = APIRouter(prefix="/api/v1")
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


def healing_of(request: Request, store: Store, box: SecretBox) -> SelfHealing:
    """The app's self-healing (a dispatching center's, which also proposes; else one to execute)."""
    state = request.app.state  # a Starlette State: its attributes live in its own dict, not __dict__
    healing: SelfHealing | None = getattr(state, "self_healing", None)
    if healing is None:
        healing = state.self_healing = SelfHealing(store, box, settings=state.settings.remedy)
    return healing


async def _start(request: Request, store: Store, box: SecretBox, rid: int) -> None:
    healing = healing_of(request, store, box)
    async with store.transaction() as s:
        rem = await remediations.get(s, rid)
    healing.start(rid, healing.timeout_of(rem))


@router.post("/remediations/preview", response_model=PreviewOut, tags=["remediations"])
async def preview_remediation(
    body: RemediationIn, request: Request, who: Viewer, store: StoreDep, box: BoxDep
) -> PreviewOut:
    """The dry-run plan of an action on a target and the defender's answer now; nothing is stored."""
    try:
        return await preview(store, box, body, request.app.state.settings.remedy)
    except (RemedyError, ValueError, TypeError) as exc:  # an unknown action, bad params
        raise InvalidInputError(str(exc)) from exc


@router.post("/remediations", status_code=201, response_model=RemediationOut, tags=["remediations"])
async def propose(
    body: RemediationIn, request: Request, who: Operator, store: StoreDep, box: BoxDep
) -> RemediationOut:
    """Propose a remediation; ``approval`` waits for an approve, ``auto`` and ``shadow`` start now."""
    try:
        kind = ACTIONS.get(body.action).kind
    except ActionError as exc:
        raise InvalidInputError(str(exc)) from exc
    state = "awaiting-approval" if body.mode is Mode.APPROVAL else "approved"
    async with store.transaction() as s:
        out = await remediations.propose(s, body, kind, who.name, state)
    if state == "approved":
        await _start(request, store, box, out.id)
    return out


@router.get("/remediations", response_model=list[RemediationOut], tags=["remediations"])
async def list_remediations(
    who: Viewer,
    store: StoreDep,
    state: Annotated[str | None, Query(max_length=32)] = None,
    incident: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[RemediationOut]:
    async with store.transaction() as s:
        return await remediations.list_remediations(s, state=state, limit=limit, incident=incident)


@router.get("/remediations/{rid}", response_model=RemediationOut, tags=["remediations"])
async def show(rid: Id, who: Viewer, store: StoreDep) -> RemediationOut:
    async with store.transaction() as s:
        return await remediations.get(s, rid)


@router.get("/remediations/{rid}/audit", response_model=list[dict[str, Any]], tags=["remediations"])
async def audit_of(rid: Id, who: Viewer, store: StoreDep) -> list[dict[str, Any]]:
    """The defender's audit of this remediation: each decision (counters, denials, plan, who
    approved) and each outcome, oldest first."""
    async with store.transaction() as s:
        await remediations.get(s, rid)
    return [r.to_dict() for r in await SqlDefenderStore(store).audit_of(f"remediation-{rid}")]


@router.post("/remediations/{rid}/approve", response_model=ApprovalOut, tags=["remediations"])
async def approve(rid: Id, request: Request, who: Operator, store: StoreDep, box: BoxDep) -> ApprovalOut:
    async with store.transaction() as s:
        await remediations.get(s, rid)
        changed = await remediations.transition(s, rid, "awaiting-approval", "approved", approver=who.name)
    if changed:
        await _start(request, store, box, rid)
    async with store.transaction() as s:
        return ApprovalOut(changed=changed, remediation=await remediations.get(s, rid))


@router.post("/remediations/{rid}/deny", response_model=ApprovalOut, tags=["remediations"])
async def deny(rid: Id, who: Operator, store: StoreDep) -> ApprovalOut:
    async with store.transaction() as s:
        await remediations.get(s, rid)
        changed = await remediations.transition(s, rid, "awaiting-approval", "denied", approver=who.name)
        return ApprovalOut(changed=changed, remediation=await remediations.get(s, rid))


@router.get("/remedy/policies", response_model=list[Policy], tags=["remediations"])
async def policies(request: Request, who: Viewer, store: StoreDep, box: BoxDep) -> list[Policy]:
    """The policies in force (``KUBEPROBE_REMEDY_POLICIES_FILE``), in the order they are matched."""
    return list(healing_of(request, store, box).policies.policies)


@router.post("/remedy/pause", status_code=204, tags=["remediations"])
async def pause(body: PauseIn, who: Operator, store: StoreDep) -> Response:
    """The kill switch: the defender grants nothing matching (cluster, action) until resumed."""
    await Defender(SqlDefenderStore(store), replica="api").pause(
        cluster=body.cluster, action=body.action, by=who.name, reason=body.reason
    )
    return Response(status_code=204)


@router.post("/remedy/resume", status_code=204, tags=["remediations"])
async def resume(body: PauseIn, who: Operator, store: StoreDep) -> Response:
    try:
        await Defender(SqlDefenderStore(store), replica="api").resume(
            cluster=body.cluster, action=body.action, by=who.name
        )
    except UnknownRemediationError as exc:
        raise NotFoundError(str(exc)) from exc
    return Response(status_code=204)
