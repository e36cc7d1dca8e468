"""Canary release probe: stays available through a rollout on a healthy sandbox; faults are named."""

from __future__ import annotations

from kubeprobe.kube.client import KubeClient
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults
from tests.cases.probes.conftest import RunProbe, assert_nothing_left, new_run_id

FAST = {"available_seconds": 20, "rollout_seconds": 30, "scale_seconds": 30, "deleted_seconds": 30}


async def test_healthy_cluster_keeps_the_app_available(run_probe: RunProbe, kube: KubeClient) -> None:
    run_id = new_run_id()
    outcome = await run_probe("canary-release", FAST, run_id=run_id)
    assert outcome.state == "succeeded", outcome.body["messages"]
    assert [s["name"] for s in outcome.body["steps"]] == [
        "deploy",
        "rollout",
        "scale-up",
        "scale-down",
        "delete",
    ]
    assert outcome.body["metrics"]["rollout_min_ready"] >= 2
    await assert_nothing_left(kube, run_id)


async def test_scheduler_paused_fails_at_deploy_naming_the_pods(
    run_probe: RunProbe, sandbox: Sandbox, kube: KubeClient
) -> None:
    faults = Faults(sandbox)
    run_id = new_run_id()
    async with faults.paused("kube-scheduler"):
        outcome = await run_probe("canary-release", {**FAST, "available_seconds": 3}, run_id=run_id)
    assert outcome.state == "failed"
    (message,) = outcome.body["messages"]
    assert message.startswith("canary-release probe failed at deploy: deployment kp-canary-")
    assert "not scheduled: no scheduling decision yet" in message
    await assert_nothing_left(kube, run_id)
    assert (await run_probe("canary-release", FAST)).state == "succeeded"


async def test_min_available_above_replicas_is_a_parameter_error(run_probe: RunProbe) -> None:
    outcome = await run_probe("canary-release", {"replicas": 1, "min_available": 2})
    assert outcome.state == "error"
    assert "min_available (2) cannot exceed replicas (1)" in outcome.body["messages"][0]
