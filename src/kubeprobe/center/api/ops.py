"""Open health endpoints (/healthz, /readyz) and Prometheus /metrics (viewer token) with its registry:
this process's request metrics, and run metrics computed from the store at scrape time
(center/services/metrics.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from kubeprobe.center.api.deps import StoreDep, Viewer
from kubeprobe.center.services.metrics import StoreCollector

router = APIRouter()


@dataclass
class CenterMetrics:
    """The center's metrics in an explicit registry (one per app, so tests never share state)."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    store_cache_seconds: float = 5.0

    def __post_init__(self) -> None:
        self.runs = StoreCollector(cache_seconds=self.store_cache_seconds)
        self.registry.register(self.runs)
        self.requests = Counter(
            "kubeprobe_center_requests", "API requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "kubeprobe_center_request_seconds",
            "API request latency",
            ["method", "route"],
            registry=self.registry,
        )
        self.results_ingested = Counter(
            "kubeprobe_center_results_ingested", "results stored by batched ingestion", registry=self.registry
        )


@router.get("/healthz", tags=["ops"])
async def healthz() -> dict[str, str]:
    """The process answers (no database access)."""
    return {"status": "ok"}


@router.get(
    "/readyz", tags=["ops"], responses={503: {"description": "database unavailable or schema not current"}}
)
async def readyz(store: StoreDep) -> Response:
    """The database answers and has the newest schema."""
    problem = await store.ready()
    if problem:
        return JSONResponse({"status": "unavailable", "detail": problem}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/metrics", tags=["ops"], response_class=Response)
async def metrics(who: Viewer, request: Request, store: StoreDep) -> Response:
    """Prometheus text format; scrape with a viewer token (bearer_token in the scrape config)."""
    center: CenterMetrics = request.app.state.metrics
    await center.runs.refresh(store)
    registry = center.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
