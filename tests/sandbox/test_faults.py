"""Each fault has the expected effect on the cluster and is undone cleanly."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from cryptography import x509

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import ForbiddenError, KubeAPIError, KubeConnectionError, KubeError
from kubeprobe.kube.waiting import wait_for
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults
from kubeprobe.sandbox.processes import ProcessState
from tests.sandbox.workloads import deployment, pod, pod_phase


async def stays(probe: Callable[[], Awaitable[Any]], ok: Callable[[Any], bool], seconds: float) -> None:
    """Observe for ``seconds`` that ``ok(probe())`` keeps holding (a negative wait has a window)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = await probe()
        assert ok(value), value
        await _tick()


async def _tick() -> None:
    import asyncio

    await asyncio.sleep(0.3)


def _phase(p: dict[str, Any]) -> str | None:
    return p.get("status", {}).get("phase")


@pytest.fixture
def faults(sandbox: Sandbox) -> Faults:
    return Faults(sandbox)


async def test_scheduler_paused_leaves_pods_pending(kube: KubeClient, namespace: str, faults: Faults) -> None:
    pods = f"/api/v1/namespaces/{namespace}/pods"
    async with faults.paused("kube-scheduler"):
        assert faults.sandbox.process_state("kube-scheduler") is ProcessState.PAUSED
        await kube.create(pods, pod("late"))
        await stays(lambda: kube.get(f"{pods}/late"), lambda p: not p["spec"].get("nodeName"), 3)
    await pod_phase(kube, namespace, "late", 30, "Running")


async def test_scheduler_stopped_then_started(kube: KubeClient, namespace: str, faults: Faults) -> None:
    pods = f"/api/v1/namespaces/{namespace}/pods"
    faults.stop("kube-scheduler")
    try:
        assert faults.sandbox.process_state("kube-scheduler") is ProcessState.STOPPED
        await kube.create(pods, pod("orphan"))
        await stays(lambda: kube.get(f"{pods}/orphan"), lambda p: not p["spec"].get("nodeName"), 2)
    finally:
        await faults.start("kube-scheduler")
    await pod_phase(kube, namespace, "orphan", 60, "Running")


async def test_kwok_paused_pods_are_bound_but_not_running(
    kube: KubeClient, namespace: str, faults: Faults
) -> None:
    pods = f"/api/v1/namespaces/{namespace}/pods"
    async with faults.paused("kwok"):
        await kube.create(pods, pod("stuck"))
        await wait_for(
            lambda: kube.get(f"{pods}/stuck"),
            lambda p: bool(p["spec"].get("nodeName")),
            timeout=20,
            what="pod bound",
        )
        await stays(lambda: kube.get(f"{pods}/stuck"), lambda p: _phase(p) == "Pending", 2)
    await pod_phase(kube, namespace, "stuck", 30, "Running")


async def test_controller_manager_paused_deployment_makes_no_pods(
    kube: KubeClient, namespace: str, faults: Faults
) -> None:
    deps = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    pods = f"/api/v1/namespaces/{namespace}/pods"
    async with faults.paused("kube-controller-manager"):
        await kube.create(deps, deployment("frozen", 2))
        await stays(lambda: kube.list_all(pods, labelSelector="app=frozen"), lambda items: not items, 3)
    await wait_for(
        lambda: kube.get(f"{deps}/frozen"),
        lambda d: d.get("status", {}).get("availableReplicas") == 2,
        timeout=60,
        what="deployment available after resume",
    )


async def test_apiserver_paused_requests_time_out(sandbox: Sandbox, faults: Faults) -> None:
    async with faults.paused("kube-apiserver"), sandbox.client(timeout=1.5) as short:
        with pytest.raises(KubeConnectionError, match="timed out"):
            await short.get("/version")
    async with sandbox.client() as kube:
        assert (await kube.get("/version"))["gitVersion"]


async def test_etcd_stopped_apiserver_fails_then_recovers(
    sandbox: Sandbox, kube: KubeClient, namespace: str, faults: Faults
) -> None:
    cms = f"/api/v1/namespaces/{namespace}/configmaps"
    await kube.create(cms, {"metadata": {"name": "before"}, "data": {"k": "v"}})
    faults.stop("etcd")
    try:
        async with sandbox.client(timeout=5) as short:
            with pytest.raises(KubeError):
                await short.create(cms, {"metadata": {"name": "during"}})
    finally:
        await faults.start("etcd")

    async def readable() -> bool:
        try:
            await kube.get(f"{cms}/before")
        except KubeError:
            return False
        return True

    await wait_for(readable, bool, timeout=60, what="data readable after etcd restart")
    await kube.create(cms, {"metadata": {"name": "after"}})


async def test_apiserver_stopped_then_started(sandbox: Sandbox, faults: Faults) -> None:
    faults.stop("kube-apiserver")
    try:
        async with sandbox.client(timeout=2) as short:
            with pytest.raises(KubeConnectionError, match="cannot reach"):
                await short.get("/version")
    finally:
        await faults.start("kube-apiserver")
    assert await sandbox.healthy("kube-apiserver")


async def test_node_not_ready_and_back(kube: KubeClient, faults: Faults, add_nodes) -> None:  # type: ignore[no-untyped-def]
    (node,) = await add_nodes(1)
    await faults.node_not_ready(node)
    obj = await kube.get(f"/api/v1/nodes/{node}")
    ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    await faults.node_ready(node)
    await stays(
        lambda: kube.get(f"/api/v1/nodes/{node}"),
        lambda n: next(c for c in n["status"]["conditions"] if c["type"] == "Ready")["status"] == "True",
        2,
    )


async def test_taint_keeps_pods_off_and_untaint_lets_them_on(
    kube: KubeClient,
    namespace: str,
    faults: Faults,
    add_nodes,  # type: ignore[no-untyped-def]
) -> None:
    (node,) = await add_nodes(1)
    pods = f"/api/v1/namespaces/{namespace}/pods"
    await faults.taint(node, "dedicated", "infra", "NoSchedule")
    try:
        await kube.create(pods, pod("pinned", nodeSelector={"kubernetes.io/hostname": node}))
        unsched = await wait_for(
            lambda: kube.get(f"{pods}/pinned"),
            lambda p: any(c.get("reason") == "Unschedulable" for c in p["status"].get("conditions") or []),
            timeout=30,
            what="pod unschedulable",
        )
        message = next(
            c["message"] for c in unsched["status"]["conditions"] if c.get("reason") == "Unschedulable"
        )
        assert "untolerated taint" in message
    finally:
        await faults.untaint(node, "dedicated")
    await pod_phase(kube, namespace, "pinned", 60, "Running")


async def test_cordon_and_uncordon(kube: KubeClient, namespace: str, faults: Faults, add_nodes) -> None:  # type: ignore[no-untyped-def]
    (node,) = await add_nodes(1)
    pods = f"/api/v1/namespaces/{namespace}/pods"
    await faults.cordon(node)
    try:
        await kube.create(pods, pod("cordoned", nodeSelector={"kubernetes.io/hostname": node}))
        await stays(lambda: kube.get(f"{pods}/cordoned"), lambda p: not p["spec"].get("nodeName"), 2)
    finally:
        await faults.cordon(node, on=False)
    await pod_phase(kube, namespace, "cordoned", 60, "Running")


async def test_failing_webhook_rejects_pods_until_removed(
    kube: KubeClient, namespace: str, faults: Faults
) -> None:
    pods = f"/api/v1/namespaces/{namespace}/pods"
    await faults.failing_webhook(namespace, timeout_seconds=2)
    try:
        # The API server's webhook informer may need a moment to see the new configuration.
        async def rejected() -> str:
            try:
                await kube.create(pods, pod("hooked"))
            except KubeAPIError as exc:
                return exc.message
            await kube.delete(f"{pods}/hooked", grace_period_seconds=0)
            return ""

        message = await wait_for(rejected, bool, timeout=20, what="webhook rejects")
        assert "failed calling webhook" in message
    finally:
        await faults.remove_failing_webhook()

    async def accepted() -> bool:
        try:
            await kube.create(pods, pod("free"))
        except KubeAPIError:
            return False
        return True

    await wait_for(accepted, bool, timeout=20, what="pod accepted after webhook removal")


async def test_exhausted_quota_forbids_pods_until_restored(
    kube: KubeClient, namespace: str, faults: Faults
) -> None:
    pods = f"/api/v1/namespaces/{namespace}/pods"
    await faults.exhaust_quota(namespace)
    try:
        with pytest.raises(ForbiddenError, match="exceeded quota"):
            await kube.create(pods, pod("over"))
    finally:
        await faults.restore_quota(namespace)
    await kube.create(pods, pod("under"))


async def test_expiring_tls_secret(kube: KubeClient, namespace: str, faults: Faults) -> None:
    when = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=5)).replace(microsecond=0)
    pem = await faults.expiring_tls_secret(namespace, "soon", when)
    secret = await kube.get(f"/api/v1/namespaces/{namespace}/secrets/soon")
    assert secret["type"] == "kubernetes.io/tls"
    cert = x509.load_pem_x509_certificate(pem)
    assert cert.not_valid_after_utc == when
    expired = await faults.expiring_tls_secret(
        namespace, "old", dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    )
    assert x509.load_pem_x509_certificate(expired).not_valid_after_utc < dt.datetime.now(dt.UTC)
