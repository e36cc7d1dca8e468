"""Pod, pod-IP, image-skew and IPAM checks find their risky state in a real cluster, and only it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.waiting import wait_for
from tests.cases.inspections.live import about, deployment, manual_node, pod, sweep

HOLD = "kubeprobe.io/test-hold"
CHECKS = [
    "pod.node-missing",
    "pod.stuck-pending",
    "pod.stuck-terminating",
    "pod.crash-looping",
    "network.duplicate-pod-ip",
    "workload.image-skew",
    "ipam.pod-ip-mismatch",
]


@pytest_asyncio.fixture(loop_scope="session")
async def spare_node(kube: KubeClient) -> AsyncIterator[str]:
    name = f"insp-manual-{uuid.uuid4().hex[:6]}"
    await kube.create("/api/v1/nodes", manual_node(name))
    try:
        yield name
    finally:
        await kube.delete(f"/api/v1/nodes/{name}")


async def _running(kube: KubeClient, namespace: str, selector: str, count: int) -> list[str]:
    """Names of the Running pods, once there are ``count`` of them."""

    async def running() -> list[str]:
        pods = await kube.list_all(f"/api/v1/namespaces/{namespace}/pods", labelSelector=selector)
        return [p["metadata"]["name"] for p in pods if p.get("status", {}).get("phase") == "Running"]

    return await wait_for(running, lambda names: len(names) == count, timeout=60, what=f"{selector} Running")


async def test_pod_checks_find_risky_pods_only(
    kube: KubeClient, namespace: str, spare_node: str, tmp_path: Path
) -> None:
    pods = f"/api/v1/namespaces/{namespace}/pods"
    await kube.create(pods, pod("healthy"))
    await kube.create(pods, pod("ghost", nodeName=f"insp-gone-{uuid.uuid4().hex[:6]}"))
    await kube.create(pods, pod("unschedulable", nodeSelector={"kubeprobe.io/nowhere": "true"}))
    await kube.create(
        pods, {**pod("held"), "metadata": {"name": "held", "labels": {"app": "held"}, "finalizers": [HOLD]}}
    )
    await kube.create(pods, pod("looping"))
    for name in ("dup-a", "dup-b", "own-ip"):
        await kube.create(pods, pod(name, nodeName=spare_node))
    await kube.create(f"/apis/apps/v1/namespaces/{namespace}/deployments", deployment("web", 2))
    await _running(kube, namespace, "app in (healthy,held,looping)", 3)
    web = await _running(kube, namespace, "app=web", 2)

    # The risky states: a container in CrashLoopBackOff, two pods with one IP, a pod of a
    # deployment changed by hand, a pod terminating behind a finalizer.
    await kube.patch(
        f"{pods}/looping/status",
        {
            "status": {
                "containerStatuses": [
                    {
                        "name": "main",
                        "image": "registry.k8s.io/pause:3.10",
                        "imageID": "",
                        "ready": False,
                        "restartCount": 7,
                        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                        "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
                    }
                ]
            }
        },
        "strategic",
    )
    for name, ip in (("dup-a", "10.250.0.7"), ("dup-b", "10.250.0.7"), ("own-ip", "10.250.0.8")):
        await kube.patch(
            f"{pods}/{name}/status", {"status": {"podIP": ip, "podIPs": [{"ip": ip}]}}, "strategic"
        )
    odd = web[0]
    await kube.patch(
        f"{pods}/{odd}",
        {"spec": {"containers": [{"name": "main", "image": "registry.k8s.io/pause:3.9"}]}},
        "strategic",
    )
    await kube.delete(f"{pods}/held", grace_period_seconds=0)
    ipam = tmp_path / "ipam.csv"
    ipam.write_text(
        f"ip,namespace,pod\n10.250.0.7,{namespace},dup-a\n10.250.0.8,{namespace},own-ip\n10.250.9.9,{namespace},long-gone\n"
    )

    report = await sweep(kube, CHECKS, pending_minutes=0, terminating_minutes=0, ipam=str(ipam))

    def names(check: str) -> list[str]:
        return sorted(f.object.name for f in about(report, check, namespace=namespace) if f.object)

    assert names("pod.node-missing") == ["ghost"]
    # Pods bound to nodes that run nothing stay Pending too: they are stuck as well.
    assert names("pod.stuck-pending") == ["dup-a", "dup-b", "ghost", "own-ip", "unschedulable"]
    assert names("pod.stuck-terminating") == ["held"]
    assert names("pod.crash-looping") == ["looping"]
    assert names("network.duplicate-pod-ip") == ["dup-a", "dup-b"]
    assert names("workload.image-skew") == ["web"]
    ipam_names = names("ipam.pod-ip-mismatch")
    assert {"dup-b", "long-gone", "healthy"} <= set(ipam_names)
    assert not {"dup-a", "own-ip"} & set(ipam_names)

    # Take the risks away: the same sweep reports nothing in this namespace.
    await kube.patch(f"{pods}/held", {"metadata": {"finalizers": None}})
    for name in ("ghost", "unschedulable", "looping", "dup-a", "dup-b", "own-ip"):
        await kube.delete(f"{pods}/{name}", grace_period_seconds=0)
    await kube.delete(f"{pods}/{odd}", grace_period_seconds=0)
    await wait_for(
        lambda: kube.list_all(pods),
        lambda items: {
            p["metadata"]["name"] for p in items if not p["metadata"].get("deletionTimestamp")
        }.isdisjoint({"ghost", "unschedulable", "looping", "dup-a", "dup-b", "held", odd}),
        timeout=60,
        what="risky pods gone",
    )
    await _running(kube, namespace, "app=web", 2)
    await wait_for(
        lambda: kube.list_all(pods, labelSelector="app=web"), lambda items: len(items) == 2, timeout=60
    )
    again = await sweep(kube, CHECKS[:-1], pending_minutes=0, terminating_minutes=0)
    assert [f for f in again.findings if f.object and f.object.namespace == namespace] == []
