"""Shared by the workload probes: pod templates, cleanup, why pods are not running (in the cluster's words).

No probe lives here; the deployment, statefulset, canary, service and node probes import it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from kubeprobe.cases.context import CaseContext, ProbeFailure
from kubeprobe.cases.probes.waits import Obj, condition, until, warning_events
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import KubeError
from kubeprobe.kube.podsecurity import restricted

log = logging.getLogger(__name__)
APP_LABEL = "kubeprobe.io/app"
CLEANUP_TIMEOUT = 10.0


def pod_template(
    ctx: CaseContext, app: str, image: str, version: str = "v1", node_selector: dict[str, str] | None = None
) -> Obj:
    """A pod template for a probe's workload, labelled with the run and the app."""
    spec: Obj = {
        "containers": [
            {
                "name": "probe",
                "image": image,
                "env": [{"name": "KUBEPROBE_VERSION", "value": version}],
                "resources": {"requests": {"cpu": "1m"}},
            }
        ],
        "terminationGracePeriodSeconds": 0,
        "automountServiceAccountToken": False,
    }
    if node_selector:
        spec["nodeSelector"] = node_selector
    return {
        "metadata": {
            "labels": {**ctx.labels, APP_LABEL: app},
            "annotations": {"kubeprobe.io/version": version},
        },
        "spec": restricted(spec),
    }


async def cleanup(ctx: CaseContext, *paths: str) -> None:
    """Delete what a probe created, never raising: the run's anchor ownerReference is the backstop."""
    for path in paths:
        try:
            await ctx.kube.request(
                "DELETE",
                path,
                params={"gracePeriodSeconds": 0, "propagationPolicy": "Background"},
                timeout=CLEANUP_TIMEOUT,
            )
        except KubeError as exc:
            if getattr(exc, "status", None) != 404:
                log.warning("run %s case %s: cleanup of %s failed: %s", ctx.run_id, ctx.case, path, exc)


def pod_ready(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and (
        (condition(pod, "Ready") or {}).get("status") == "True"
    )


async def why_pod(kube: KubeClient, namespace: str, pod: Obj) -> str:
    """One pod's reason for not running: scheduler's message, container waiting reasons, or warning events."""
    name = pod["metadata"]["name"]
    node = (pod.get("spec") or {}).get("nodeName")
    if not node:
        sched = condition(pod, "PodScheduled") or {}
        return f"pod {name} not scheduled: {sched.get('message') or 'no scheduling decision yet'}"
    reasons = []
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (status.get("state") or {}).get("waiting") or {}
        if waiting:
            reasons.append(f"{waiting.get('reason')}: {waiting.get('message', '')}".strip(": "))
    with contextlib.suppress(KubeError):
        reasons += await warning_events(kube, namespace, name)
    phase = (pod.get("status") or {}).get("phase")
    return f"pod {name} {phase} on node {node}: " + ("; ".join(reasons) or "not ready yet")


async def why_pods(kube: KubeClient, namespace: str, selector: str, owners: list[str], limit: int = 3) -> str:
    """Why the pods matching ``selector`` are not ready; with no pods, the owners' warning events."""
    pods = await kube.list_all(f"/api/v1/namespaces/{namespace}/pods", labelSelector=selector)
    pods.sort(key=lambda p: p["metadata"]["name"])
    waiting = [p for p in pods if not pod_ready(p) and not p["metadata"].get("deletionTimestamp")]
    reasons = [await why_pod(kube, namespace, p) for p in waiting[:limit]]
    for owner in owners:
        with contextlib.suppress(KubeError):
            reasons += await warning_events(kube, namespace, owner, limit=1)
    if not pods and not reasons:
        reasons.append("no pods were created (is kube-controller-manager running?)")
    return "; ".join(reasons) or "pods are ready but the controller has not reported it"


async def replica_sets(kube: KubeClient, namespace: str, selector: str) -> list[str]:
    rs = await kube.list_all(f"/apis/apps/v1/namespaces/{namespace}/replicasets", labelSelector=selector)
    return [r["metadata"]["name"] for r in rs]


def _status_line(obj: Obj | None, replicas: int) -> str:
    if obj is None:
        return "it is gone"
    status = obj.get("status") or {}
    return (
        f"{status.get('readyReplicas', 0)}/{replicas} ready, {status.get('updatedReplicas', 0)} updated, "
        f"observed generation {status.get('observedGeneration', 0)} of {obj['metadata'].get('generation')}"
    )


def rolled_out(obj: Obj | None, replicas: int) -> bool:
    """The controller has seen the latest spec and every replica is updated and ready (no extras)."""
    if obj is None:
        return False
    status = obj.get("status") or {}
    current = bool(status.get("observedGeneration", 0) >= obj["metadata"].get("generation", 1))
    counts = bool(
        status.get("replicas", 0) == replicas
        and status.get("readyReplicas", 0) == replicas
        and status.get("updatedReplicas", 0) == replicas
    )
    if obj.get("kind") == "StatefulSet":
        counts = counts and bool(status.get("currentRevision") == status.get("updateRevision"))
    return current and counts


async def wait_rolled_out(
    ctx: CaseContext,
    kind: str,
    path: str,
    replicas: int,
    *,
    timeout: float,
    selector: str,
    owners: list[str] | None = None,
    what: str = "",
) -> Obj:
    """Wait until a Deployment/StatefulSet at ``path`` has ``replicas`` updated, ready replicas."""
    name = path.rsplit("/", 1)[-1]
    try:
        obj = await until(
            ctx.kube, path, lambda o: rolled_out(o, replicas), timeout=timeout, explain=lambda o: ""
        )
    except ProbeFailure:
        obj = None
        with contextlib.suppress(KubeError):
            obj = await ctx.kube.get(path)
        extra = owners if owners is not None else [name]
        if kind == "deployment":
            extra = [*extra, *await replica_sets(ctx.kube, ctx.namespace, selector)]
            failure = condition(obj, "ReplicaFailure")
            if failure and failure.get("status") == "True":
                extra = []
                why = f"{failure.get('reason')}: {failure.get('message')}"
            else:
                why = await why_pods(ctx.kube, ctx.namespace, selector, extra)
        else:
            why = await why_pods(ctx.kube, ctx.namespace, selector, extra)
        raise ProbeFailure(
            f"{kind} {name} {what or f'not at {replicas} ready replicas'} after {timeout:g}s "
            f"({_status_line(obj, replicas)}): {why}"
        ) from None
    assert obj is not None
    return obj


async def wait_gone(ctx: CaseContext, kind: str, path: str, selector: str, timeout: float) -> None:
    """Wait until the object at ``path`` and the pods matching ``selector`` are gone."""
    name = path.rsplit("/", 1)[-1]
    await until(
        ctx.kube,
        path,
        lambda o: o is None,
        timeout=timeout,
        explain=lambda o: (
            f"{kind} {name} still there {timeout:g}s after delete "
            f"(finalizers: {((o or {}).get('metadata') or {}).get('finalizers')})"
        ),
    )
    deadline = time.monotonic() + timeout
    pods_path = f"/api/v1/namespaces/{ctx.namespace}/pods"
    while True:
        pods = await ctx.kube.list_all(pods_path, labelSelector=selector)
        if not pods:
            return
        if time.monotonic() >= deadline:
            names = ", ".join(p["metadata"]["name"] for p in pods[:3])
            raise ProbeFailure(
                f"{len(pods)} pod(s) of {kind} {name} still there {timeout:g}s after delete: {names} "
                "(the garbage collector in kube-controller-manager removes them)"
            )
        await asyncio.sleep(0.2)


def selector_of(ctx: CaseContext, app: str) -> str:
    return f"{APP_LABEL}={app},kubeprobe.io/run-id={ctx.run_id}"
