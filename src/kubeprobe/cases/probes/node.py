"""Node probe: every node is Ready and runs a pod; the failure lists each failed node and why."""

from __future__ import annotations

import asyncio
import time

from pydantic import BaseModel, Field

from kubeprobe.cases.context import CaseContext, ProbeFailure
from kubeprobe.cases.probes.waits import Obj, condition
from kubeprobe.cases.probes.workloads import cleanup, pod_ready, selector_of, why_pod
from kubeprobe.cases.registry import REGISTRY
from kubeprobe.kube.errors import KubeAPIError
from kubeprobe.kube.podsecurity import restricted

HOSTNAME = "kubernetes.io/hostname"


class NodeProbeParams(BaseModel):
    """Parameters of the node probe."""

    image: str = Field("registry.k8s.io/pause:3.10", description="Image of the per-node pods.")
    node_selector: str = Field("", description="Label selector of the nodes to probe (all when empty).")
    include_unschedulable: bool = Field(False, description="Also probe cordoned nodes.")
    max_nodes: int = Field(500, gt=0, description="Refuse to fan out to more nodes than this.")
    running_seconds: float = Field(60, gt=0, description="Limit for every pod to be Running and Ready.")
    deleted_seconds: float = Field(60, gt=0, description="Limit for the pods to be gone after delete.")


def node_pod(ctx: CaseContext, name: str, app: str, hostname: str, image: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": ctx.metadata(name, **{"kubeprobe.io/app": app}),
        "spec": restricted(
            {
                "containers": [{"name": "probe", "image": image, "resources": {"requests": {"cpu": "1m"}}}],
                "nodeSelector": {HOSTNAME: hostname},
                # The probe asks whether the node runs pods, not whether its taints admit ours.
                "tolerations": [{"operator": "Exists"}],
                "terminationGracePeriodSeconds": 0,
                "automountServiceAccountToken": False,
                "restartPolicy": "Never",
            }
        ),
    }


def not_ready_reason(node: Obj) -> str | None:
    ready = condition(node, "Ready")
    if ready and ready.get("status") == "True":
        return None
    if not ready:
        return "NotReady (no Ready condition)"
    return f"NotReady ({ready.get('reason')}: {ready.get('message')})"


@REGISTRY.probe("node-probe", params=NodeProbeParams, timeout_seconds=300)
async def node_probe(ctx: CaseContext, params: NodeProbeParams) -> None:
    """Check every node is Ready, place one pod on each Ready node and wait until all of them run."""
    app = ctx.name("node")
    base = f"/api/v1/namespaces/{ctx.namespace}/pods"
    failed: dict[str, str] = {}
    pods: dict[str, str] = {}  # pod name -> node
    try:
        with ctx.report.step("nodes"):
            query = {"labelSelector": params.node_selector} if params.node_selector else {}
            nodes = await ctx.kube.list_all("/api/v1/nodes", **query)
            if not params.include_unschedulable:
                nodes = [n for n in nodes if not (n.get("spec") or {}).get("unschedulable")]
            if not nodes:
                raise ProbeFailure(f"no schedulable nodes match {params.node_selector or 'any labels'!r}")
            if len(nodes) > params.max_nodes:
                raise ProbeFailure(f"{len(nodes)} nodes exceed max_nodes={params.max_nodes}")
            for node in nodes:
                reason = not_ready_reason(node)
                if reason:
                    failed[node["metadata"]["name"]] = reason
            ready = [n for n in nodes if n["metadata"]["name"] not in failed]
            ctx.report.metrics["nodes"] = len(nodes)
            ctx.report.metrics["nodes_not_ready"] = len(failed)
        with ctx.report.step("create"):
            for index, node in enumerate(ready):
                name = f"{app}-{index}"
                node_name = node["metadata"]["name"]
                hostname = (node["metadata"].get("labels") or {}).get(HOSTNAME, node_name)
                try:
                    await ctx.kube.create(base, node_pod(ctx, name, app, hostname, params.image))
                    pods[name] = node_name
                except KubeAPIError as exc:
                    failed[node_name] = f"pod {name} not created: {exc.message}"
        with ctx.report.step("running"):
            start = time.monotonic()
            waiting = dict(pods)
            while waiting:
                current = {
                    p["metadata"]["name"]: p
                    for p in await ctx.kube.list_all(base, labelSelector=selector_of(ctx, app))
                }
                for name in [n for n in waiting if n in current and pod_ready(current[n])]:
                    del waiting[name]
                if not waiting or time.monotonic() - start >= params.running_seconds:
                    break
                await asyncio.sleep(0.2)
            for name, node_name in sorted(waiting.items(), key=lambda kv: kv[1]):
                pod = current.get(name)
                why = await why_pod(ctx.kube, ctx.namespace, pod) if pod else f"pod {name} vanished"
                failed[node_name] = f"{why} (not running after {params.running_seconds:g}s)"
            ctx.report.metrics["running_s"] = round(time.monotonic() - start, 3)
            ctx.report.metrics["nodes_failed"] = len(failed)
            if failed:
                listed = "; ".join(f"{node}: {why}" for node, why in sorted(failed.items()))
                raise ProbeFailure(f"{len(failed)} of {len(nodes)} nodes failed: {listed}")
        with ctx.report.step("delete"):
            await asyncio.gather(*(cleanup(ctx, f"{base}/{name}") for name in pods))
            deadline = time.monotonic() + params.deleted_seconds
            while left := await ctx.kube.list_all(base, labelSelector=selector_of(ctx, app)):
                if time.monotonic() >= deadline:
                    names = ", ".join(p["metadata"]["name"] for p in left[:5])
                    raise ProbeFailure(f"{len(left)} pod(s) still there after delete: {names}")
                await asyncio.sleep(0.2)
    finally:
        await asyncio.gather(*(cleanup(ctx, f"{base}/{name}") for name in pods))
