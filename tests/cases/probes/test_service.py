"""Service probe: ready pods become endpoints on a healthy sandbox; a stalled endpoint controller is named."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from kubeprobe.cases.context import CaseContext
from kubeprobe.cases.probes.service import why_not_ready
from kubeprobe.cases.probes.waits import Obj
from kubeprobe.kube.client import KubeClient
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults
from tests.cases.probes.conftest import RunProbe, assert_nothing_left, new_run_id


async def test_healthy_cluster_gets_endpoints_for_ready_pods(run_probe: RunProbe, kube: KubeClient) -> None:
    run_id = new_run_id()
    outcome = await run_probe("service-probe", run_id=run_id)
    assert outcome.state == "succeeded", outcome.body["messages"]
    assert [s["name"] for s in outcome.body["steps"]] == ["create", "pods-ready", "endpoints", "delete"]
    await assert_nothing_left(kube, run_id)


async def test_controller_manager_paused_leaves_the_service_without_endpoints(
    run_probe: RunProbe, sandbox: Sandbox, kube: KubeClient
) -> None:
    faults = Faults(sandbox)
    run_id = new_run_id()
    async with faults.paused("kube-controller-manager"):
        outcome = await run_probe("service-probe", {"endpoints_seconds": 3}, run_id=run_id)
    assert outcome.state == "failed"
    (message,) = outcome.body["messages"]
    assert message.startswith("service-probe probe failed at endpoints: service kp-svc-")
    assert "has no ready endpoint for pod IP(s)" in message
    assert "after 3s (0 EndpointSlice(s)" in message
    await assert_nothing_left(kube, run_id)
    assert (await run_probe("service-probe")).state == "succeeded"


async def test_dns_where_the_cluster_has_none_fails_naming_the_name(run_probe: RunProbe) -> None:
    """The sandbox has no cluster DNS: asking for it must fail at the dns step, naming the host."""
    outcome = await run_probe("service-probe", {"check_dns": True, "dns_seconds": 1})
    assert outcome.state == "failed"
    message = outcome.body["messages"][0]
    assert "failed at dns: kp-svc-" in message
    assert ".kubeprobe-system.svc.cluster.local does not resolve to ClusterIP" in message


async def test_pods_that_never_run_are_named_with_their_state(
    run_probe: RunProbe, sandbox: Sandbox, kube: KubeClient
) -> None:
    """kwok paused: no pod runs; the message names each pod and where it waits, from the same listing
    the count came from (not "ready but not reported" from a later one)."""
    run_id = new_run_id()
    async with Faults(sandbox).paused("kwok"):
        outcome = await run_probe("service-probe", {"ready_seconds": 2}, run_id=run_id)
    assert outcome.state == "failed"
    (message,) = outcome.body["messages"]
    assert "failed at pods-ready: 0/2 pods of service kp-svc-" in message
    assert "ready with an IP of their own after 2s: pod kp-svc-" in message
    assert message.count("Pending on node kwok-node-") == 2, message
    await assert_nothing_left(kube, run_id)


async def test_ready_pods_without_an_ip_or_sharing_one_are_named() -> None:
    """What kwok or a CNI could do wrong: a ready pod without an IP, two ready pods on one IP."""

    def ready(name: str, ip: str) -> Obj:
        status = {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]}
        return {"metadata": {"name": name}, "status": status}

    pods = [ready("a", "10.128.0.5"), ready("b", "10.128.0.5"), ready("c", "")]
    ctx = cast(CaseContext, SimpleNamespace(kube=None, namespace="ns"))  # no pod here needs a lookup
    why = await why_not_ready(ctx, pods, {"a": "10.128.0.5", "b": "10.128.0.5", "c": ""})
    no_ip = "pod c is ready without an IP (status.podIP is empty)"
    assert why == f"{no_ip}; pods a, b share IP 10.128.0.5 (an IP conflict)"
