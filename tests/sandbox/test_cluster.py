"""A sandbox is a working cluster: nodes Ready, pods run, controllers reconcile, version pinned."""

from __future__ import annotations

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.waiting import wait_for
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.components import ORDER
from kubeprobe.sandbox.nodes import is_ready
from kubeprobe.sandbox.versions import KUBERNETES_VERSION
from tests.sandbox.workloads import deployment, pod, pod_phase, statefulset


async def test_version_is_the_pinned_one(kube: KubeClient) -> None:
    version = await kube.get("/version")
    assert version["gitVersion"] == KUBERNETES_VERSION


async def test_nodes_are_ready(kube: KubeClient) -> None:
    nodes = await kube.list_all("/api/v1/nodes", labelSelector="type=kwok")
    assert len(nodes) >= 3
    assert all(is_ready(n) for n in nodes)


async def test_status_reports_every_component_healthy(sandbox: Sandbox) -> None:
    status = await sandbox.status()
    assert [c["name"] for c in status["components"]] == list(ORDER)
    assert all(c["healthy"] for c in status["components"]), status
    assert status["version"] == KUBERNETES_VERSION


async def test_pod_reaches_running_with_an_ip(kube: KubeClient, namespace: str) -> None:
    await kube.create(f"/api/v1/namespaces/{namespace}/pods", pod("web"))
    running = await pod_phase(kube, namespace, "web", 30, "Running")
    assert running["spec"]["nodeName"].startswith("kwok-node-")
    assert running["status"]["podIP"].startswith("10.")


async def test_deployment_of_three_becomes_available(kube: KubeClient, namespace: str) -> None:
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    await kube.create(path, deployment("web", 3))
    dep = await wait_for(
        lambda: kube.get(f"{path}/web"),
        lambda d: d.get("status", {}).get("availableReplicas") == 3,
        timeout=60,
        what="deployment web available",
    )
    assert dep["status"]["readyReplicas"] == 3


async def test_statefulset_becomes_available(kube: KubeClient, namespace: str) -> None:
    path = f"/apis/apps/v1/namespaces/{namespace}/statefulsets"
    await kube.create(path, statefulset("db", 2))
    await wait_for(
        lambda: kube.get(f"{path}/db"),
        lambda s: s.get("status", {}).get("availableReplicas") == 2,
        timeout=60,
        what="statefulset db available",
    )
    pods = await kube.list_all(f"/api/v1/namespaces/{namespace}/pods", labelSelector="app=db")
    assert sorted(p["metadata"]["name"] for p in pods) == ["db-0", "db-1"]


async def test_add_nodes_joins_ready_nodes(kube: KubeClient, add_nodes) -> None:  # type: ignore[no-untyped-def]
    names = await add_nodes(2, {"pool": "extra"})
    nodes = await kube.list_all("/api/v1/nodes", labelSelector="pool=extra")
    assert {n["metadata"]["name"] for n in nodes} >= set(names)
    assert all(is_ready(n) for n in nodes)
    assert len({n["spec"]["podCIDR"] for n in nodes}) == len(nodes)
