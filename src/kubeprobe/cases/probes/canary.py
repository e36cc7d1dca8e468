"""Canary release probe: deploy an app, roll it to a new version, scale it up and down, and check
that it stays available through the rollout (never fewer ready replicas than ``min_available``).
"""

from __future__ import annotations

import asyncio
import contextlib

from pydantic import BaseModel, Field, model_validator

from kubeprobe.cases.context import CaseContext, ProbeFailure
from kubeprobe.cases.probes.deployment import create_rolled_out, version_patch
from kubeprobe.cases.probes.workloads import cleanup, selector_of, wait_gone, wait_rolled_out
from kubeprobe.cases.registry import REGISTRY
from kubeprobe.kube.errors import KubeError


class CanaryReleaseParams(BaseModel):
    """Parameters of the canary probe."""

    image: str = Field("registry.k8s.io/pause:3.10", description="Image of the app's pods.")
    replicas: int = Field(2, ge=1, le=20, description="Replicas of the app during the rollout.")
    scale_to: int = Field(4, ge=1, le=40, description="Replicas after the scale-up.")
    min_available: int = Field(2, ge=0, description="Ready replicas the app must keep through the rollout.")
    node_selector: dict[str, str] = Field(default_factory=dict, description="Where the pods may run.")
    available_seconds: float = Field(60, gt=0, description="Limit for the first version to be ready.")
    rollout_seconds: float = Field(90, gt=0, description="Limit for the rollout to the new version.")
    scale_seconds: float = Field(60, gt=0, description="Limit for a scale-up or scale-down.")
    deleted_seconds: float = Field(60, gt=0, description="Limit for the app and its pods to go.")

    @model_validator(mode="after")
    def _available_fits(self) -> CanaryReleaseParams:
        if self.min_available > self.replicas:
            raise ValueError(f"min_available ({self.min_available}) cannot exceed replicas ({self.replicas})")
        return self


class AvailabilityWatch:
    """Samples the deployment's ready replicas while a rollout runs; remembers the lowest."""

    def __init__(self, ctx: CaseContext, path: str) -> None:
        self.ctx = ctx
        self.path = path
        self.lowest: int | None = None

    async def run(self) -> None:
        while True:
            with contextlib.suppress(KubeError):
                obj = await self.ctx.kube.get(self.path)
                ready = int((obj.get("status") or {}).get("readyReplicas", 0))
                self.lowest = ready if self.lowest is None else min(self.lowest, ready)
            await asyncio.sleep(0.1)


@REGISTRY.probe("canary-release", params=CanaryReleaseParams, timeout_seconds=600)
async def canary_release(ctx: CaseContext, params: CanaryReleaseParams) -> None:
    """Deploy v1, roll to v2 while checking availability, scale up and down, delete."""
    name = ctx.name("canary")
    selector = selector_of(ctx, name)
    base = f"/apis/apps/v1/namespaces/{ctx.namespace}/deployments"
    path = f"{base}/{name}"
    try:
        with ctx.report.step("deploy"):
            await create_rolled_out(
                ctx,
                name,
                params.image,
                params.replicas,
                node_selector=params.node_selector,
                timeout=params.available_seconds,
                selector=selector,
            )
        with ctx.report.step("rollout"):
            watch = AvailabilityWatch(ctx, path)
            task = asyncio.create_task(watch.run())
            try:
                await ctx.kube.patch(path, version_patch("v2"), "strategic")
                await wait_rolled_out(
                    ctx,
                    "deployment",
                    path,
                    params.replicas,
                    timeout=params.rollout_seconds,
                    selector=selector,
                    what="rollout to v2 not complete",
                )
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            lowest = watch.lowest if watch.lowest is not None else params.replicas
            ctx.report.metrics["rollout_min_ready"] = lowest
            if lowest < params.min_available:
                raise ProbeFailure(
                    f"deployment {name} dropped to {lowest} ready replicas during the rollout "
                    f"(min_available {params.min_available})"
                )
        with ctx.report.step("scale-up"):
            await ctx.kube.patch(path, {"spec": {"replicas": params.scale_to}})
            await wait_rolled_out(
                ctx, "deployment", path, params.scale_to, timeout=params.scale_seconds, selector=selector
            )
        with ctx.report.step("scale-down"):
            await ctx.kube.patch(path, {"spec": {"replicas": params.replicas}})
            await wait_rolled_out(
                ctx, "deployment", path, params.replicas, timeout=params.scale_seconds, selector=selector
            )
        with ctx.report.step("delete"):
            await ctx.kube.request("DELETE", path, params={"propagationPolicy": "Background"})
            await wait_gone(ctx, "deployment", path, selector, params.deleted_seconds)
    finally:
        await cleanup(ctx, path)
