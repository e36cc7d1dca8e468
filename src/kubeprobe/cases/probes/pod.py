"""Pod lifecycle probe: create → scheduled → running → deleted, with a latency threshold per step."""

from __future__ import annotations

import contextlib
import time

from pydantic import BaseModel, Field

from kubeprobe.cases.context import CaseContext, ProbeFailure
from kubeprobe.cases.probes.waits import Obj, condition, until, warning_events
from kubeprobe.cases.registry import REGISTRY
from kubeprobe.kube.errors import KubeAPIError, KubeError
from kubeprobe.kube.podsecurity import restricted


class PodLifecycleParams(BaseModel):
    """Parameters of the pod probe; every threshold is a step's time limit in seconds."""

    image: str = Field("registry.k8s.io/pause:3.10", description="Image of the probe pod.")
    node_selector: dict[str, str] = Field(default_factory=dict, description="Where the pod may run.")
    scheduled_seconds: float = Field(30, gt=0, description="Limit from create to scheduled.")
    running_seconds: float = Field(60, gt=0, description="Limit from scheduled to Running.")
    deleted_seconds: float = Field(60, gt=0, description="Limit for the pod to be gone after delete.")


def pod_manifest(ctx: CaseContext, name: str, params: PodLifecycleParams) -> Obj:
    spec: Obj = {
        "containers": [{"name": "probe", "image": params.image, "resources": {"requests": {"cpu": "1m"}}}],
        "terminationGracePeriodSeconds": 0,
        "automountServiceAccountToken": False,
        "restartPolicy": "Never",
    }
    if params.node_selector:
        spec["nodeSelector"] = params.node_selector
    return {"apiVersion": "v1", "kind": "Pod", "metadata": ctx.metadata(name), "spec": restricted(spec)}


def _scheduled(pod: Obj | None) -> bool:
    return bool(pod and pod.get("spec", {}).get("nodeName"))


def _running(pod: Obj | None) -> bool:
    return bool(pod and pod.get("status", {}).get("phase") == "Running")


async def _why_not_running(ctx: CaseContext, name: str, pod: Obj | None) -> str:
    reasons = []
    for status in ((pod or {}).get("status") or {}).get("containerStatuses") or []:
        waiting = (status.get("state") or {}).get("waiting") or {}
        if waiting:
            reasons.append(f"{waiting.get('reason')}: {waiting.get('message', '')}".strip(": "))
    reasons += await warning_events(ctx.kube, ctx.namespace, name)
    return "; ".join(reasons) or f"phase {((pod or {}).get('status') or {}).get('phase')}"


@REGISTRY.probe("pod-lifecycle", params=PodLifecycleParams, timeout_seconds=300)
async def pod_lifecycle(ctx: CaseContext, params: PodLifecycleParams) -> None:
    """Create a pod, wait until it is scheduled and Running, delete it and wait until it is gone."""
    name = ctx.name("pod")
    path = f"/api/v1/namespaces/{ctx.namespace}/pods"
    try:
        with ctx.report.step("create"):
            try:
                await ctx.kube.create(path, pod_manifest(ctx, name, params))
            except KubeAPIError as exc:
                raise ProbeFailure(f"pod {name} not created: {exc.message}") from exc
        with ctx.report.step("scheduled"):
            await until(
                ctx.kube,
                f"{path}/{name}",
                _scheduled,
                timeout=params.scheduled_seconds,
                explain=lambda pod: (
                    f"pod {name} not scheduled after {params.scheduled_seconds:g}s: "
                    + ((condition(pod, "PodScheduled") or {}).get("message") or "no scheduling decision")
                ),
            )
        with ctx.report.step("running"):
            start = time.monotonic()
            try:
                await until(
                    ctx.kube,
                    f"{path}/{name}",
                    _running,
                    timeout=params.running_seconds,
                    explain=lambda pod: "",
                )
            except ProbeFailure:
                pod = await ctx.kube.get(f"{path}/{name}")
                why = await _why_not_running(ctx, name, pod)
                raise ProbeFailure(
                    f"pod {name} not running after {params.running_seconds:g}s on node "
                    f"{pod['spec'].get('nodeName')}: {why}"
                ) from None
            ctx.report.metrics["running_s"] = round(time.monotonic() - start, 3)
        with ctx.report.step("delete"):
            await ctx.kube.delete(f"{path}/{name}", grace_period_seconds=0)
            await until(
                ctx.kube,
                f"{path}/{name}",
                lambda pod: pod is None,
                timeout=params.deleted_seconds,
                explain=lambda pod: (
                    f"pod {name} still there {params.deleted_seconds:g}s after delete "
                    f"(finalizers: {((pod or {}).get('metadata') or {}).get('finalizers')})"
                ),
            )
    finally:
        # Never let a failing cleanup (API server or etcd down) hide the probe's own message.
        with contextlib.suppress(KubeError):
            await ctx.kube.delete(f"{path}/{name}", grace_period_seconds=0)
