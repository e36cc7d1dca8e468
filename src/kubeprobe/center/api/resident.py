"""Routes of the resident operator: batched reports in, stored reports out."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from kubeprobe.center.api.deps import Operator, StoreDep, Viewer, check_batch_size, json_body_schema
from kubeprobe.center.schemas.resident import (
    ResidentAccepted,
    ResidentBatch,
    ResidentReportOut,
    parse_resident_batch,
)
from kubeprobe.center.store import resident

router = APIRouter(prefix="/api/v1/resident", tags=["resident"])


_BODY = json_body_schema(ResidentBatch)


@router.post(
    "/reports", status_code=202, response_model=ResidentAccepted, openapi_extra={"requestBody": _BODY}
)
async def ingest_reports(who: Operator, store: StoreDep, request: Request) -> ResidentAccepted:
    """State changes and summaries of ProbeConfigs, in order; keys make a replayed batch harmless.

    The body is a ResidentBatch, checked straight from its bytes (a fast path with the models' own
    limits and messages); the token is checked once for the whole batch."""
    try:
        reports = parse_resident_batch(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(
            [dict(e, loc=("body", *e["loc"])) for e in exc.errors(include_url=False)]
        ) from exc
    check_batch_size(request, "reports", len(reports))
    async with store.transaction() as s:
        accepted = await resident.ingest_reports(s, reports, who)
    request.app.state.metrics.results_ingested.inc(accepted.accepted)
    return accepted


@router.get("/reports", response_model=list[ResidentReportOut])
async def list_reports(
    *,
    who: Viewer,
    store: StoreDep,
    cluster: Annotated[str | None, Query(max_length=63)] = None,
    case: Annotated[str | None, Query(max_length=63)] = None,
    kind: Literal["state", "summary"] | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[ResidentReportOut]:
    """Stored resident reports, newest first."""
    async with store.transaction() as s:
        return await resident.list_reports(s, cluster=cluster, case=case, kind=kind, limit=limit)
