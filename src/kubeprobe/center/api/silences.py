"""Routes of silences: mute notifications, or in pause mode (a maintenance window) also pause runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from kubeprobe.center.api.deps import Operator, StoreDep, Viewer
from kubeprobe.center.schemas.silences import SilenceIn, SilenceOut
from kubeprobe.center.store import silences as silence_store
from kubeprobe.center.store.common import utcnow

router = APIRouter(prefix="/api/v1")
NO_CONTENT = Response(status_code=204)
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post("/silences", status_code=201, response_model=SilenceOut, tags=["silences"])
async def create_silence(body: SilenceIn, who: Operator, store: StoreDep) -> SilenceOut:
    """A silence (mode mute) or maintenance window (mode pause), one-off or recurring."""
    async with store.transaction() as s:
        return await silence_store.create_silence(s, body, who)


@router.get("/silences", response_model=list[SilenceOut], tags=["silences"])
async def list_silences(
    who: Viewer, store: StoreDep, expired: Annotated[bool, Query(description="include ended ones")] = False
) -> list[SilenceOut]:
    async with store.transaction() as s:
        return await silence_store.list_silences(s, expired=expired)


@router.get("/silences/{silence_id}", response_model=SilenceOut, tags=["silences"])
async def get_silence(silence_id: Id, who: Viewer, store: StoreDep) -> SilenceOut:
    async with store.transaction() as s:
        return silence_store.silence_out(await silence_store.get_silence(s, silence_id), utcnow())


@router.put("/silences/{silence_id}", response_model=SilenceOut, tags=["silences"])
async def update_silence(silence_id: Id, body: SilenceIn, who: Operator, store: StoreDep) -> SilenceOut:
    async with store.transaction() as s:
        return await silence_store.update_silence(s, silence_id, body, who)


@router.delete("/silences/{silence_id}", status_code=204, tags=["silences"])
async def delete_silence(silence_id: Id, who: Operator, store: StoreDep) -> Response:
    async with store.transaction() as s:
        await silence_store.delete_silence(s, silence_id, who)
    return NO_CONTENT


# --- receivers and routes (admin) ----------------------------------------------------------------
