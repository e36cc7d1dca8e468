"""Workloads, observations and a defender for the remediation tests against the sandbox."""

from __future__ import annotations

import os
import signal
from typing import Any

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.waiting import wait_for
from kubeprobe.remedy.defender import (
    CapSettings,
    Defender,
    DefenderSettings,
    MemoryDefenderStore,
    Observation,
    RateSettings,
)
from kubeprobe.remedy.health import NodeHealthView
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.components import ORDER
from kubeprobe.sandbox.faults import crash_loop_status
from tests.sandbox.workloads import IMAGE, deployment

LOOSE = DefenderSettings(
    caps=CapSettings(
        pool_nodes=None,
        pool_nodes_percent=None,
        cluster_nodes=2,
        cluster_nodes_percent=None,
        in_flight_per_cluster=3,
    ),
    rates=RateSettings(action_burst=50, fleet_burst=50, disruptive_gap_seconds=0),
)


def defender(settings: DefenderSettings = LOOSE) -> Defender:
    return Defender(MemoryDefenderStore(), settings, replica="test")


async def observe(kube: KubeClient) -> Observation:
    view = NodeHealthView()
    view.replace_all(await kube.list_all("/api/v1/nodes"))
    view.reachable = True
    return Observation(view, fleet_clusters=1)


async def create_ready(kube: KubeClient, namespace: str, dep: dict[str, Any], timeout: float = 90) -> None:
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    await kube.create(path, dep)
    name, want = dep["metadata"]["name"], dep["spec"]["replicas"]
    await wait_for(
        lambda: kube.get(f"{path}/{name}"),
        lambda d: (d.get("status") or {}).get("availableReplicas", 0) == want,
        timeout=timeout,
        what=f"deployment {name} available",
    )


async def pods_of(kube: KubeClient, namespace: str, app: str) -> list[dict[str, Any]]:
    pods = await kube.list_all(f"/api/v1/namespaces/{namespace}/pods", labelSelector=f"app={app}")
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


async def crash_loop(kube: KubeClient, pod: dict[str, Any]) -> None:
    """Report the pod's container as crash-looping, as a kubelet would (kwok runs nothing)."""
    meta = pod["metadata"]
    path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status"
    await kube.patch(path, {"status": crash_loop_status(pod)})


async def scheduler_sees_cordon(kube: KubeClient, namespace: str, pin: dict[str, Any]) -> None:
    """Wait until the scheduler refuses a pod pinned to the cordoned node: its cache lags the API
    (a check pod it still places there is deleted and another one tried)."""
    path = f"/api/v1/namespaces/{namespace}/pods"
    spec = {"containers": [{"name": "main", "image": IMAGE}], **pin}

    def refused(pod: dict[str, Any]) -> bool:
        conditions = (pod.get("status") or {}).get("conditions") or []
        return any(c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable" for c in conditions)

    for attempt in range(20):
        name = f"cordon-check-{attempt}"
        await kube.create(path, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec})
        pod = await wait_for(
            lambda n=name: kube.get(f"{path}/{n}"),
            lambda p: refused(p) or bool((p.get("spec") or {}).get("nodeName")),
            timeout=30,
            what="the check pod refused or placed",
        )
        if refused(pod):
            return
        await kube.delete(f"{path}/{name}")
    raise AssertionError("the scheduler kept placing pods on the cordoned node")


class SandboxSupervisor:
    """The sandbox's supervisor as a `ComponentSupervisor`: a killed component is started again
    by it, as a kubelet restarts a static pod."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def components(self) -> tuple[str, ...]:
        return ORDER

    async def component_healthy(self, component: str) -> bool:
        return await self.sandbox.healthy(component, timeout=1.0)

    async def restart_component(self, component: str) -> None:
        pid = self.sandbox.pid(component)
        if pid:
            os.kill(pid, signal.SIGKILL)  # SIGKILL also ends a stopped (SIGSTOP) process


async def crash_looping_pod(kube: KubeClient, namespace: str, app: str, replicas: int = 1) -> dict[str, Any]:
    """A ready Deployment ``app`` one of whose pods is then reported crash-looping; that pod."""
    await create_ready(kube, namespace, deployment(app, replicas))
    victim = (await pods_of(kube, namespace, app))[0]
    await crash_loop(kube, victim)
    return victim


def pod_delete(victim: dict[str, Any], cluster: str = "sandbox") -> dict[str, Any]:
    """The remediation body that deletes ``victim`` (the API's RemediationIn)."""
    meta = victim["metadata"]
    return {"cluster": cluster, "action": "pod-delete", "name": meta["name"], "namespace": meta["namespace"]}
