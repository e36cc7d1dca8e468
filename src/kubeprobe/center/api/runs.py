"""Routes for runs: list, show, trigger, a case's report, batched results, cluster health and check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from kubeprobe.center.api.deps import (
    BoxDep,
    Operator,
    Reporter,
    StoreDep,
    Viewer,
    check_batch_size,
    json_body_schema,
)
from kubeprobe.center.schemas.clusters import ClusterOut
from kubeprobe.center.schemas.common import Page, RunStateName, Time
from kubeprobe.center.schemas.runs import (
    BatchAccepted,
    ClusterHealth,
    ReportIn,
    ResultBatch,
    RunCreate,
    RunCreated,
    RunDetail,
    RunOut,
    parse_result_batch,
)
from kubeprobe.center.store import clusters, health, ingestion, runs
from kubeprobe.center.store.common import aware, check_limit
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import KubeError

router = APIRouter(prefix="/api/v1")
NameQ = Annotated[str | None, Query(max_length=63)]


@router.get("/runs", response_model=Page[RunOut], tags=["runs"])
async def list_runs(
    *,
    who: Viewer,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    cluster: NameQ = None,
    group: NameQ = None,
    case: NameQ = None,
    state: RunStateName | None = None,
    since: Time | None = None,
    until: Time | None = None,
) -> Page[RunOut]:
    """Runs newest first, filtered by cluster, group, case, state and creation time."""
    check_limit(limit)
    since, until = aware(since), aware(until)
    async with store.transaction() as s:
        items, nxt = await runs.list_runs(
            s,
            limit=limit,
            cursor=cursor,
            cluster=cluster,
            group=group,
            case=case,
            state=state,
            since=since,
            until=until,
        )
    return Page[RunOut](items=items, next=nxt)


@router.get("/runs/{run_id}", response_model=RunDetail, tags=["runs"])
async def get_run(run_id: str, who: Viewer, store: StoreDep) -> RunDetail:
    async with store.transaction() as s:
        return await runs.get_run(s, run_id)


@router.post("/runs", status_code=201, response_model=RunCreated, tags=["runs"])
async def trigger_run(body: RunCreate, who: Operator, store: StoreDep) -> RunCreated:
    """Trigger a case on a cluster by hand: a pending run with its deadline and report token."""
    async with store.transaction() as s:
        return await runs.create_run(s, body, who)


@router.post("/runs/{run_id}/report", response_model=RunDetail, tags=["runs"])
async def report_run(
    run_id: str, body: ReportIn, who: Reporter, store: StoreDep, response: Response
) -> RunDetail:
    """A case reports its own run with the run's token. Late: 410; another run's token: 403;
    a second report changes nothing (header `KubeProbe-Report: ignored`)."""
    async with store.transaction() as s:
        accepted, run = await runs.report_run(s, run_id, body, who)
    if not accepted:
        response.headers["KubeProbe-Report"] = "ignored"
    return run


_BATCH_BODY = json_body_schema(ResultBatch)


@router.post(
    "/results",
    status_code=202,
    response_model=BatchAccepted,
    tags=["runs"],
    openapi_extra={"requestBody": _BATCH_BODY},
)
async def ingest_results(who: Operator, store: StoreDep, request: Request) -> BatchAccepted:
    """Finished runs in one batch (resident operator, runners); ids make retries idempotent.

    The body is a ResultBatch; it is parsed and checked straight from its bytes (a fast path with
    the models' own limits and messages)."""
    try:
        results = parse_result_batch(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(
            [dict(e, loc=("body", *e["loc"])) for e in exc.errors(include_url=False)]
        ) from exc
    check_batch_size(request, "results", len(results))
    async with store.transaction() as s:
        accepted = await ingestion.ingest_results(s, results, who)
    request.app.state.metrics.results_ingested.inc(accepted.accepted)
    return accepted


@router.get("/clusters/{name}/health", response_model=ClusterHealth, tags=["clusters"])
async def cluster_health(
    name: str, who: Viewer, store: StoreDep, window_hours: Annotated[int, Query(ge=1, le=9600)] = 24
) -> ClusterHealth:
    """Per case: last state, success ratio and latency over the window."""
    async with store.transaction() as s:
        return await health.cluster_health(s, name, window_hours)


@router.post("/clusters/{name}/check", response_model=ClusterOut, tags=["clusters"])
async def check_cluster(name: str, who: Operator, store: StoreDep, box: BoxDep) -> ClusterOut:
    """Connect to the cluster now and record whether it answers (state ready/unreachable) and its version."""
    async with store.transaction() as s:
        conn = await clusters.connection_of(s, box, name)
    try:
        async with KubeClient(conn, timeout=10.0) as kube:
            info = await kube.get("/version")
        state, message, version = "ready", "", str(info.get("gitVersion", ""))
    except KubeError as exc:
        state, message, version = "unreachable", str(exc)[:2000], ""
    async with store.transaction() as s:
        return await clusters.set_cluster_state(s, name, state, message, version)
