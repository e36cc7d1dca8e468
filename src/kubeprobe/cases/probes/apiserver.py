"""API server probe: ConfigMap create/read/update/delete, list and watch latency, counts of 429 and 5xx.

A request that gets no answer within ``request_timeout_seconds`` is a failure (the server took the
connection but did not serve it); a refused connection stays an error (KubeProbe could not run).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from pydantic import BaseModel, Field

from kubeprobe.cases.context import CaseContext, ProbeFailure
from kubeprobe.cases.probes.workloads import cleanup
from kubeprobe.cases.registry import REGISTRY
from kubeprobe.kube.errors import KubeAPIError, KubeConnectionError, KubeServerError, ThrottledError


class ApiServerProbeParams(BaseModel):
    """Parameters of the API server probe."""

    request_timeout_seconds: float = Field(5, gt=0, description="Deadline of one request.")
    latency_threshold_ms: float = Field(1000, gt=0, description="Slowest acceptable request.")
    watch_threshold_ms: float = Field(2000, gt=0, description="Limit from update to its watch event.")


class RequestCounter:
    """Times and counts the probe's requests; 429 and 5xx answers are counted, then fail the step."""

    def __init__(self, ctx: CaseContext, timeout: float) -> None:
        self.ctx = ctx
        self.timeout = timeout
        self.latency_ms: dict[str, float] = {}
        self.throttled = 0
        self.server_errors = 0

    async def __call__(self, what: str, method: str, path: str, **kwargs: Any) -> Any:
        start = time.monotonic()
        try:
            result = await self.ctx.kube.request(method, path, timeout=self.timeout, **kwargs)
        except ThrottledError as exc:
            self.throttled += 1
            raise ProbeFailure(f"{what}: the API server throttled the request: {exc}") from exc
        except KubeServerError as exc:
            self.server_errors += 1
            raise ProbeFailure(f"{what}: the API server failed: {exc}") from exc
        except KubeAPIError as exc:
            raise ProbeFailure(f"{what}: the API server refused: {exc}") from exc
        except KubeConnectionError as exc:
            if isinstance(exc.__cause__, httpx.TimeoutException) and not isinstance(
                exc.__cause__, httpx.ConnectTimeout
            ):
                raise ProbeFailure(f"{what}: no answer within {self.timeout:g}s ({method} {path})") from exc
            raise
        self.latency_ms[what] = round((time.monotonic() - start) * 1000, 2)
        return result


async def watch_latency(
    ctx: CaseContext, path: str, name: str, resource_version: str, update: Callable[[], Awaitable[Any]]
) -> float:
    """Milliseconds from sending ``update`` to the watch event that shows it."""
    seen = asyncio.Event()

    async def watch() -> None:
        async for event in ctx.kube.watch(
            path, resource_version=resource_version, timeout_seconds=30, fieldSelector=f"metadata.name={name}"
        ):
            data = (event.get("object") or {}).get("data") or {}
            if event.get("type") == "MODIFIED" and data.get("step") == "watched":
                seen.set()
                return

    task = asyncio.create_task(watch())
    try:
        await asyncio.sleep(0.05)  # let the watch reach the server before the update
        start = time.monotonic()
        await update()
        await seen.wait()
        return (time.monotonic() - start) * 1000
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


@REGISTRY.probe("apiserver-probe", params=ApiServerProbeParams, timeout_seconds=120)
async def apiserver_probe(ctx: CaseContext, params: ApiServerProbeParams) -> None:
    """Create, read, update, list, watch and delete a ConfigMap, timing each request."""
    name = ctx.name("api")
    base = f"/api/v1/namespaces/{ctx.namespace}/configmaps"
    path = f"{base}/{name}"
    req = RequestCounter(ctx, params.request_timeout_seconds)
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": ctx.metadata(name),
        "data": {"step": "create"},
    }
    try:
        with ctx.report.step("create"):
            await req(f"create configmap {name}", "POST", base, body=obj)
        with ctx.report.step("read"):
            got = await req(f"read configmap {name}", "GET", path)
            if (got.get("data") or {}).get("step") != "create":
                raise ProbeFailure(f"configmap {name} read back {got.get('data')}, not what was written")
        with ctx.report.step("update"):
            await req(
                f"update configmap {name}",
                "PATCH",
                path,
                body={"data": {"step": "update"}},
                content_type="application/merge-patch+json",
            )
        with ctx.report.step("list"):
            listed = await req(
                f"list configmaps in {ctx.namespace}",
                "GET",
                base,
                params={"labelSelector": f"kubeprobe.io/run-id={ctx.run_id}"},
            )
            names = [i["metadata"]["name"] for i in listed.get("items") or []]
            if name not in names:
                raise ProbeFailure(f"list of configmaps in {ctx.namespace} lacks {name} (got {names})")
            rv = listed["metadata"]["resourceVersion"]
        with ctx.report.step("watch"):
            patch = {"data": {"step": "watched"}}
            try:
                async with asyncio.timeout(params.watch_threshold_ms / 1000):
                    ms = await watch_latency(
                        ctx,
                        base,
                        name,
                        rv,
                        lambda: req(
                            f"update configmap {name}",
                            "PATCH",
                            path,
                            body=patch,
                            content_type="application/merge-patch+json",
                        ),
                    )
            except TimeoutError:
                raise ProbeFailure(
                    f"no watch event for the update of configmap {name} "
                    f"within {params.watch_threshold_ms:g}ms"
                ) from None
            ctx.report.metrics["watch_latency_ms"] = round(ms, 2)
        with ctx.report.step("delete"):
            await req(f"delete configmap {name}", "DELETE", path)
        with ctx.report.step("latency"):
            for what, ms in req.latency_ms.items():
                key = what.split(" ", 1)[0]
                ctx.report.metrics[f"{key}_latency_ms"] = ms
            slow = {w: ms for w, ms in req.latency_ms.items() if ms > params.latency_threshold_ms}
            if slow:
                detail = ", ".join(f"{w} {ms:.0f}ms" for w, ms in slow.items())
                raise ProbeFailure(f"slow requests: {detail} (threshold {params.latency_threshold_ms:g}ms)")
    finally:
        ctx.report.metrics["throttled_429_count"] = req.throttled
        ctx.report.metrics["server_error_5xx_count"] = req.server_errors
        await cleanup(ctx, path)
