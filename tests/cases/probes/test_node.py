"""Node probe: one pod on every node of a healthy sandbox; a NotReady node is named with its reason."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from kubeprobe.kube.client import KubeClient
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults
from tests.cases.probes.conftest import RunProbe, assert_nothing_left, new_run_id

AddNodes = Callable[..., Awaitable[list[str]]]


async def test_healthy_cluster_runs_a_pod_on_every_node(run_probe: RunProbe, kube: KubeClient) -> None:
    run_id = new_run_id()
    outcome = await run_probe("node-probe", {"running_seconds": 30}, run_id=run_id)
    assert outcome.state == "succeeded", outcome.body["messages"]
    nodes = await kube.list_all("/api/v1/nodes")
    schedulable = [n for n in nodes if not n["spec"].get("unschedulable")]
    assert outcome.body["metrics"]["nodes"] == len(schedulable)
    assert outcome.body["metrics"]["nodes_failed"] == 0
    await assert_nothing_left(kube, run_id)


async def test_not_ready_node_is_named_with_its_reason(
    run_probe: RunProbe, sandbox: Sandbox, kube: KubeClient, add_nodes: AddNodes
) -> None:
    (node,) = await add_nodes(1)
    faults = Faults(sandbox)
    run_id = new_run_id()
    await faults.node_not_ready(node)
    try:
        outcome = await run_probe("node-probe", {"running_seconds": 20}, run_id=run_id)
    finally:
        await faults.node_ready(node)
    assert outcome.state == "failed"
    (message,) = outcome.body["messages"]
    assert message.startswith("node-probe probe failed at running: 1 of ")
    assert f"nodes failed: {node}: NotReady (" in message
    await assert_nothing_left(kube, run_id)
    assert (await run_probe("node-probe", {"running_seconds": 30})).state == "succeeded"


async def test_stalled_node_agent_names_the_nodes_and_pods(run_probe: RunProbe, sandbox: Sandbox) -> None:
    """kwok paused: pods are scheduled but never start; every node is listed with its pod."""
    faults = Faults(sandbox)
    async with faults.paused("kwok"):
        outcome = await run_probe("node-probe", {"running_seconds": 2})
    assert outcome.state == "failed"
    message = outcome.body["messages"][0]
    assert "failed at running:" in message
    assert "Pending on node kwok-node-0" in message
    assert "(not running after 2s)" in message
