"""Node probe: every node is Ready and runs a pod; the failure lists each failed node and why."""

from __future__ import annotations

import asyncio
import re
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


#: How often the running step reads the kubelets' sandbox failures of its pods.
SANDBOX_CHECK_S = 0.5
#: The runtime did not answer the kubelet at all (its socket is gone, the connection refused): no
#: retry of the kubelet's will make the sandbox while that lasts.
RUNTIME_DOWN = re.compile(r"rpc error: code = Unavailable")


def _count(event: Obj) -> int:
    return int(event.get("count") or (event.get("series") or {}).get("count") or 1)


async def sandbox_failures(ctx: CaseContext, waiting: dict[str, str]) -> dict[str, str]:
    """Pods among ``waiting`` (name → node) whose sandbox their kubelet failed to create twice,
    or once because the runtime did not answer: name → the kubelet's words."""
    events = await ctx.kube.list_all(
        f"/api/v1/namespaces/{ctx.namespace}/events",
        fieldSelector="reason=FailedCreatePodSandBox,involvedObject.kind=Pod",
    )
    out: dict[str, str] = {}
    for event in events:
        name = (event.get("involvedObject") or {}).get("name", "")
        message = str(event.get("message") or "")
        if name in waiting and (_count(event) >= 2 or RUNTIME_DOWN.search(message)):
            out[name] = f"FailedCreatePodSandBox: {message[:400]}"
    return out


async def _wait_running(
    ctx: CaseContext, params: NodeProbeParams, app: str, pods: dict[str, str], failed: dict[str, str]
) -> str:
    """Until every pod runs, ``running_seconds`` passed, or a kubelet says a pod's sandbox cannot
    be made (then only those pods fail, at once: the cluster's own words need no waiting out).
    Adds each failed node's reason to ``failed``; returns a note for the failure message."""
    base = f"/api/v1/namespaces/{ctx.namespace}/pods"
    start = time.monotonic()
    next_check = start + SANDBOX_CHECK_S
    waiting = dict(pods)
    current: dict[str, Obj] = {}
    while waiting:
        listed = await ctx.kube.list_all(base, labelSelector=selector_of(ctx, app))
        current = {p["metadata"]["name"]: p for p in listed}
        for name in [n for n in waiting if n in current and pod_ready(current[n])]:
            del waiting[name]
        if not waiting or time.monotonic() - start >= params.running_seconds:
            break
        if time.monotonic() >= next_check:
            next_check = time.monotonic() + SANDBOX_CHECK_S
            if stuck := await sandbox_failures(ctx, waiting):
                for name, words in sorted(stuck.items()):
                    phase = (current.get(name, {}).get("status") or {}).get("phase")
                    failed[waiting[name]] = f"pod {name} {phase} on node {waiting[name]}: {words}"
                left = len(waiting) - len(stuck)
                others = f"; {left} other pod(s) not waited for" if left else ""
                return f" (ended after {time.monotonic() - start:.0f}s{others})"
        await asyncio.sleep(0.2)
    for name, node_name in sorted(waiting.items(), key=lambda kv: kv[1]):
        found = current.get(name)
        why = await why_pod(ctx.kube, ctx.namespace, found) if found else f"pod {name} vanished"
        failed[node_name] = f"{why} (not running after {params.running_seconds:g}s)"
    return ""


@REGISTRY.probe("node-probe", params=NodeProbeParams, timeout_seconds=300)
async def node_probe(ctx: CaseContext, params: NodeProbeParams) -> None:
    """Check every node is Ready, place one pod on each Ready node and wait until all of them run
    (a pod whose kubelet says its sandbox cannot be made fails the run at once)."""
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
            stuck = await _wait_running(ctx, params, app, pods, failed)
            ctx.report.metrics["running_s"] = round(time.monotonic() - start, 3)
            ctx.report.metrics["nodes_failed"] = len(failed)
            if failed:
                listed = "; ".join(f"{node}: {why}" for node, why in sorted(failed.items()))
                raise ProbeFailure(f"{len(failed)} of {len(nodes)} nodes failed: {listed}{stuck}")
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
