"""Deployment lifecycle probe: create, scale 1→3, rolling update to a new template, scale down, delete."""

from __future__ import annotations

from pydantic import BaseModel, Field

from kubeprobe.cases.context import CaseContext, ProbeFailure
from kubeprobe.cases.probes.workloads import (
    cleanup,
    pod_template,
    selector_of,
    wait_gone,
    wait_rolled_out,
)
from kubeprobe.cases.registry import REGISTRY
from kubeprobe.kube.errors import KubeAPIError


class DeploymentLifecycleParams(BaseModel):
    """Parameters of the deployment probe; each ``*_seconds`` is a step's time limit."""

    image: str = Field("registry.k8s.io/pause:3.10", description="Image of the probe pods.")
    replicas: int = Field(3, ge=2, le=20, description="Replicas after the scale-up.")
    node_selector: dict[str, str] = Field(default_factory=dict, description="Where the pods may run.")
    available_seconds: float = Field(60, gt=0, description="Limit for the first replica to be ready.")
    scale_seconds: float = Field(60, gt=0, description="Limit for a scale-up or scale-down.")
    rollout_seconds: float = Field(90, gt=0, description="Limit for the rolling update.")
    deleted_seconds: float = Field(60, gt=0, description="Limit for the deployment and its pods to go.")


def deployment_manifest(
    ctx: CaseContext, name: str, image: str, replicas: int, node_selector: dict[str, str]
) -> dict[str, object]:
    template = pod_template(ctx, name, image, "v1", node_selector)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": ctx.metadata(name),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": template["metadata"]["labels"]},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": template,
        },
    }


def version_patch(version: str) -> dict[str, object]:
    """A new pod template: another env value and annotation (a new ReplicaSet)."""
    return {
        "spec": {
            "template": {
                "metadata": {"annotations": {"kubeprobe.io/version": version}},
                "spec": {
                    "containers": [
                        {"name": "probe", "env": [{"name": "KUBEPROBE_VERSION", "value": version}]}
                    ]
                },
            }
        }
    }


async def create_rolled_out(
    ctx: CaseContext,
    name: str,
    image: str,
    replicas: int,
    *,
    node_selector: dict[str, str],
    timeout: float,
    selector: str,
) -> None:
    """Create the probe's deployment and wait until all its replicas are rolled out and available."""
    base = f"/apis/apps/v1/namespaces/{ctx.namespace}/deployments"
    try:
        await ctx.kube.create(base, deployment_manifest(ctx, name, image, replicas, node_selector))
    except KubeAPIError as exc:
        raise ProbeFailure(f"deployment {name} not created: {exc.message}") from exc
    await wait_rolled_out(ctx, "deployment", f"{base}/{name}", replicas, timeout=timeout, selector=selector)


@REGISTRY.probe("deployment-lifecycle", params=DeploymentLifecycleParams, timeout_seconds=600)
async def deployment_lifecycle(ctx: CaseContext, params: DeploymentLifecycleParams) -> None:
    """Create a deployment, scale it up, roll it to a new template, scale it down and delete it."""
    name = ctx.name("deploy")
    selector = selector_of(ctx, name)
    base = f"/apis/apps/v1/namespaces/{ctx.namespace}/deployments"
    path = f"{base}/{name}"
    try:
        with ctx.report.step("create"):
            await create_rolled_out(
                ctx,
                name,
                params.image,
                1,
                node_selector=params.node_selector,
                timeout=params.available_seconds,
                selector=selector,
            )
        with ctx.report.step("scale-up"):
            await ctx.kube.patch(path, {"spec": {"replicas": params.replicas}})
            await wait_rolled_out(
                ctx, "deployment", path, params.replicas, timeout=params.scale_seconds, selector=selector
            )
        with ctx.report.step("rollout"):
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
        with ctx.report.step("scale-down"):
            await ctx.kube.patch(path, {"spec": {"replicas": 1}})
            await wait_rolled_out(ctx, "deployment", path, 1, timeout=params.scale_seconds, selector=selector)
        with ctx.report.step("delete"):
            await ctx.kube.request("DELETE", path, params={"propagationPolicy": "Background"})
            await wait_gone(ctx, "deployment", path, selector, params.deleted_seconds)
    finally:
        await cleanup(ctx, path)
