"""StatefulSet lifecycle probe: ordered creation on a healthy sandbox; an exhausted quota is named."""

from __future__ import annotations

from kubeprobe.kube.client import KubeClient
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults
from tests.cases.probes.conftest import RunProbe, assert_nothing_left, new_run_id

FAST = {"create_seconds": 30, "scale_seconds": 30, "deleted_seconds": 30}


async def test_healthy_cluster_passes_every_step(run_probe: RunProbe, kube: KubeClient) -> None:
    run_id = new_run_id()
    outcome = await run_probe("statefulset-lifecycle", FAST, run_id=run_id)
    assert outcome.state == "succeeded", outcome.body["messages"]
    assert [s["name"] for s in outcome.body["steps"]] == [
        "create",
        "ordered",
        "scale-up",
        "scale-down",
        "delete",
    ]
    await assert_nothing_left(kube, run_id)


async def test_quota_exhausted_fails_at_create_with_the_quota_message(
    run_probe: RunProbe, sandbox: Sandbox, kube: KubeClient
) -> None:
    faults = Faults(sandbox)
    run_id = new_run_id()
    await faults.exhaust_quota("kubeprobe-system")
    try:
        outcome = await run_probe("statefulset-lifecycle", {**FAST, "create_seconds": 4}, run_id=run_id)
    finally:
        await faults.restore_quota("kubeprobe-system")
    assert outcome.state == "failed"
    (message,) = outcome.body["messages"]
    assert message.startswith("statefulset-lifecycle probe failed at create: statefulset kp-sts-")
    assert "not at 2 ready replicas after 4s" in message
    assert "exceeded quota: kubeprobe-fault-quota" in message
    await assert_nothing_left(kube, run_id)
    assert (await run_probe("statefulset-lifecycle", FAST)).state == "succeeded"


async def test_scheduler_paused_names_the_pod_not_scheduled(run_probe: RunProbe, sandbox: Sandbox) -> None:
    faults = Faults(sandbox)
    async with faults.paused("kube-scheduler"):
        outcome = await run_probe("statefulset-lifecycle", {**FAST, "create_seconds": 3})
    assert outcome.state == "failed"
    message = outcome.body["messages"][0]
    assert "failed at create: statefulset kp-sts-" in message
    assert "-0 not scheduled: no scheduling decision yet" in message
