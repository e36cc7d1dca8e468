"""Namespace lifecycle probe: passes on a healthy sandbox; a stalled namespace controller is named."""

from __future__ import annotations

from kubeprobe.kube.client import KubeClient
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults
from tests.cases.probes.conftest import RunProbe, assert_nothing_left, new_run_id


async def test_healthy_cluster_creates_and_deletes_a_namespace(run_probe: RunProbe, kube: KubeClient) -> None:
    run_id = new_run_id()
    outcome = await run_probe("namespace-lifecycle", run_id=run_id)
    assert outcome.state == "succeeded", outcome.body["messages"]
    assert [s["name"] for s in outcome.body["steps"]] == ["create", "use", "delete"]
    await assert_nothing_left(kube, run_id)


async def test_controller_manager_paused_leaves_it_terminating(
    run_probe: RunProbe, sandbox: Sandbox, kube: KubeClient
) -> None:
    faults = Faults(sandbox)
    run_id = new_run_id()
    async with faults.paused("kube-controller-manager"):
        outcome = await run_probe("namespace-lifecycle", {"deleted_seconds": 3}, run_id=run_id)
    assert outcome.state == "failed"
    (message,) = outcome.body["messages"]
    assert message.startswith("namespace-lifecycle probe failed at delete: namespace kp-ns-")
    assert "still Terminating 3s after delete" in message
    assert "the namespace controller (kube-controller-manager) has not processed the deletion" in message
    await assert_nothing_left(kube, run_id, timeout=90)
    assert (await run_probe("namespace-lifecycle")).state == "succeeded"
