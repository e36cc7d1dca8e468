"""Deployment lifecycle probe: passes on a healthy sandbox, fails naming the stalled controller."""

from __future__ import annotations

from kubeprobe.kube.client import KubeClient
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults
from tests.cases.probes.conftest import RunProbe, assert_nothing_left, new_run_id

FAST = {"available_seconds": 20, "scale_seconds": 30, "rollout_seconds": 30, "deleted_seconds": 30}


async def test_healthy_cluster_passes_every_step(run_probe: RunProbe, kube: KubeClient) -> None:
    run_id = new_run_id()
    outcome = await run_probe("deployment-lifecycle", FAST, run_id=run_id)
    assert outcome.state == "succeeded", outcome.body["messages"]
    assert [s["name"] for s in outcome.body["steps"]] == [
        "create",
        "scale-up",
        "rollout",
        "scale-down",
        "delete",
    ]
    await assert_nothing_left(kube, run_id)


async def test_controller_manager_paused_fails_at_create(
    run_probe: RunProbe, sandbox: Sandbox, kube: KubeClient
) -> None:
    faults = Faults(sandbox)
    run_id = new_run_id()
    async with faults.paused("kube-controller-manager"):
        outcome = await run_probe("deployment-lifecycle", {**FAST, "available_seconds": 3}, run_id=run_id)
    assert outcome.state == "failed"
    (message,) = outcome.body["messages"]
    assert message.startswith("deployment-lifecycle probe failed at create: deployment kp-deploy-")
    assert "observed generation 0 of 1" in message
    assert "no pods were created" in message
    await assert_nothing_left(kube, run_id)
    assert (await run_probe("deployment-lifecycle", FAST)).state == "succeeded"


async def test_failing_webhook_is_quoted_from_the_replica_failure(
    run_probe: RunProbe, sandbox: Sandbox, kube: KubeClient
) -> None:
    faults = Faults(sandbox)
    run_id = new_run_id()
    await faults.failing_webhook("kubeprobe-system", timeout_seconds=1)
    try:
        outcome = await run_probe("deployment-lifecycle", {**FAST, "available_seconds": 5}, run_id=run_id)
    finally:
        await faults.remove_failing_webhook()
    assert outcome.state == "failed"
    (message,) = outcome.body["messages"]
    assert message.startswith("deployment-lifecycle probe failed at create: deployment kp-deploy-")
    assert "failed calling webhook" in message
    await assert_nothing_left(kube, run_id)


async def test_a_killed_run_leaves_nothing_behind(
    run_probe: RunProbe, sandbox: Sandbox, kube: KubeClient
) -> None:
    """The run's deadline cancels the probe mid-step; finally-blocks and the anchor clean up."""
    faults = Faults(sandbox)
    run_id = new_run_id()
    async with faults.paused("kube-scheduler"):
        outcome = await run_probe("deployment-lifecycle", {"available_seconds": 60}, timeout=3, run_id=run_id)
    assert outcome.state == "timed_out"
    assert "did not finish before its deadline (at create)" in outcome.body["messages"][0]
    await assert_nothing_left(kube, run_id)
