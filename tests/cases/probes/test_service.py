"""Service probe: ready pods become endpoints on a healthy sandbox; a stalled endpoint controller is named."""

from __future__ import annotations

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
