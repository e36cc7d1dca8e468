"""StatefulSet lifecycle probe: ordered creation, scale up and down, delete."""

from __future__ import annotations

from pydantic import BaseModel, Field

from kubeprobe.cases.context import CaseContext, ProbeFailure
from kubeprobe.cases.probes.waits import Obj, condition
from kubeprobe.cases.probes.workloads import (
    cleanup,
    pod_template,
    selector_of,
    wait_gone,
    wait_rolled_out,
)
from kubeprobe.cases.registry import REGISTRY
from kubeprobe.kube.errors import KubeAPIError


class StatefulSetLifecycleParams(BaseModel):
    """Parameters of the statefulset probe; each ``*_seconds`` is a step's time limit."""

    image: str = Field("registry.k8s.io/pause:3.10", description="Image of the probe pods.")
    replicas: int = Field(2, ge=2, le=10, description="Replicas created in order at first.")
    scale_to: int = Field(3, ge=2, le=20, description="Replicas after the scale-up.")
    node_selector: dict[str, str] = Field(default_factory=dict, description="Where the pods may run.")
    create_seconds: float = Field(90, gt=0, description="Limit for the ordered creation.")
    scale_seconds: float = Field(90, gt=0, description="Limit for a scale-up or scale-down.")
    deleted_seconds: float = Field(60, gt=0, description="Limit for the statefulset and its pods to go.")


def statefulset_manifest(ctx: CaseContext, name: str, params: StatefulSetLifecycleParams) -> Obj:
    template = pod_template(ctx, name, params.image, "v1", params.node_selector)
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": ctx.metadata(name),
        "spec": {
            "replicas": params.replicas,
            "podManagementPolicy": "OrderedReady",
            "selector": {"matchLabels": template["metadata"]["labels"]},
            "template": template,
        },
    }


async def check_order(ctx: CaseContext, name: str, replicas: int) -> None:
    """Pod N+1 was created only once pod N was Ready (OrderedReady), by the API server's timestamps."""
    pods = {
        p["metadata"]["name"]: p
        for p in await ctx.kube.list_all(
            f"/api/v1/namespaces/{ctx.namespace}/pods", labelSelector=selector_of(ctx, name)
        )
    }
    for i in range(1, replicas):
        prev, cur = pods.get(f"{name}-{i - 1}"), pods.get(f"{name}-{i}")
        if prev is None or cur is None:
            raise ProbeFailure(f"pods {name}-{i - 1} and {name}-{i} should both exist")
        ready_at = (condition(prev, "Ready") or {}).get("lastTransitionTime") or ""
        created = cur["metadata"]["creationTimestamp"]
        # RFC 3339 UTC strings of the same format compare in time order.
        if ready_at and created < ready_at:
            raise ProbeFailure(
                f"pod {name}-{i} was created at {created}, before pod {name}-{i - 1} was Ready "
                f"at {ready_at}: the statefulset controller broke the ordering"
            )


@REGISTRY.probe("statefulset-lifecycle", params=StatefulSetLifecycleParams, timeout_seconds=600)
async def statefulset_lifecycle(ctx: CaseContext, params: StatefulSetLifecycleParams) -> None:
    """Create a statefulset in order, scale it up and down, delete it and wait for its pods to go."""
    name = ctx.name("sts")
    selector = selector_of(ctx, name)
    base = f"/apis/apps/v1/namespaces/{ctx.namespace}/statefulsets"
    path = f"{base}/{name}"
    try:
        with ctx.report.step("create"):
            try:
                await ctx.kube.create(base, statefulset_manifest(ctx, name, params))
            except KubeAPIError as exc:
                raise ProbeFailure(f"statefulset {name} not created: {exc.message}") from exc
            await wait_rolled_out(
                ctx, "statefulset", path, params.replicas, timeout=params.create_seconds, selector=selector
            )
        with ctx.report.step("ordered"):
            await check_order(ctx, name, params.replicas)
        with ctx.report.step("scale-up"):
            await ctx.kube.patch(path, {"spec": {"replicas": params.scale_to}})
            await wait_rolled_out(
                ctx, "statefulset", path, params.scale_to, timeout=params.scale_seconds, selector=selector
            )
        with ctx.report.step("scale-down"):
            await ctx.kube.patch(path, {"spec": {"replicas": 1}})
            await wait_rolled_out(
                ctx, "statefulset", path, 1, timeout=params.scale_seconds, selector=selector
            )
        with ctx.report.step("delete"):
            await ctx.kube.request("DELETE", path, params={"propagationPolicy": "Background"})
            await wait_gone(ctx, "statefulset", path, selector, params.deleted_seconds)
    finally:
        await cleanup(ctx, path)
