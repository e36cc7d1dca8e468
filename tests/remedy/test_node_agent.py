"""The node agent against the sandbox's API server and a real supervisor (stand-in components):
it carries out what an operation names once, reports it in status, refuses what it does not know,
and never repeats an operation (after it finished, or after the agent restarted mid-way); the CRD
refuses hostile objects at the API server. The action ``restart-node-component`` goes through it
under the defender, and its dry run shows the object it would create."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import KubeClientError
from kubeprobe.remedy import operations as ops
from kubeprobe.remedy.actions import ACTIONS, ActionContext
from kubeprobe.remedy.defender import Mode, Target
from kubeprobe.remedy.execution import attempt
from kubeprobe.sandbox.cluster import Sandbox
from tests.remedy.agent_helpers import (
    StandIns,
    agent_running,
    create_op,
    delete_ops,
    finished,
    install_crd,
    running,
    supervised,
)
from tests.remedy.sandbox_helpers import defender, observe


@pytest_asyncio.fixture(loop_scope="session")
async def node(kube: KubeClient) -> AsyncIterator[str]:
    await install_crd(kube)
    name = f"agent-node-{uuid.uuid4().hex[:6]}"
    yield name
    await delete_ops(kube, name)


@pytest.fixture
def standins(tmp_path: Path) -> Iterator[StandIns]:
    with supervised(tmp_path) as found:
        yield found


async def test_a_restart_is_carried_out_once_and_reported(
    kube: KubeClient, node: str, standins: StandIns
) -> None:
    before = await running(standins, "kubelet-0")
    async with agent_running(kube, node, standins):
        name = await create_op(kube, node)
        done = await finished(kube, name)
    status = done["status"]
    assert status["phase"] == "Succeeded", status
    assert status["observedGeneration"] == done["metadata"]["generation"]
    assert status["startedAt"] <= status["finishedAt"]
    assert status["agent"].startswith("agent-")
    after = await running(standins, "kubelet-0")
    assert after != before
    assert f"pid {after}" in status["message"]
    # A new agent (a restarted pod) sees the finished operation and does nothing.
    async with agent_running(kube, node, standins) as again:
        assert await again.handle(await kube.get(ops.path(name))) == "Succeeded"
        assert standins.pid("kubelet-0") == after


async def test_a_stopped_component_is_started_again(kube: KubeClient, node: str, standins: StandIns) -> None:
    await running(standins, "containerd-0")
    standins.stop("containerd-0")
    async with agent_running(kube, node, standins):
        done = await finished(kube, await create_op(kube, node, "restart-container-runtime"))
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert "was stopped" in done["status"]["message"]
    await running(standins, "containerd-0")
    assert not (standins.run / "containerd-0.stopped").exists()


async def test_what_the_agent_does_not_know_is_refused_and_nothing_runs(
    kube: KubeClient, node: str, standins: StandIns
) -> None:
    before = await running(standins, "kubelet-0")
    async with agent_running(kube, node, standins):
        done = await finished(kube, await create_op(kube, node, "restart-kube-proxy"))
    assert done["status"]["phase"] == "Refused"
    assert "this node has no kube-proxy the agent can restart" in done["status"]["message"]
    assert standins.pid("kubelet-0") == before


async def test_an_operation_interrupted_by_an_agent_restart_is_not_repeated(
    kube: KubeClient, node: str, standins: StandIns
) -> None:
    before = await running(standins, "kubelet-0")
    name = await create_op(kube, node)
    claimed = {"phase": "Running", "agent": "agent-gone", "startedAt": ops.now_rfc3339()}
    await kube.patch(ops.path(name) + "/status", {"status": claimed})
    async with agent_running(kube, node, standins):
        done = await finished(kube, name)
    assert done["status"]["phase"] == "Failed"
    assert "interrupted: agent-gone claimed it" in done["status"]["message"]
    assert standins.pid("kubelet-0") == before


async def test_the_api_server_refuses_hostile_operations(kube: KubeClient, node: str) -> None:
    hostile = [
        {"action": "reboot"},
        {"nodeName": "Not A Node!"},
        {"reason": "x" * 100_000},
        {"timeoutSeconds": 10**7},
    ]
    for spec in hostile:
        body = ops.operation_body(
            node, "restart-kubelet", remediation=f"h-{uuid.uuid4().hex[:6]}", nonce="a1"
        )
        body["spec"].update(spec)
        with pytest.raises(KubeClientError) as caught:
            await kube.create(ops.COLLECTION, body)
        assert caught.value.status == 422, (spec.keys(), caught.value)
    name = await create_op(kube, node)
    with pytest.raises(KubeClientError, match="spec is immutable"):
        await kube.patch(ops.path(name), {"spec": {"action": "restart-kube-proxy"}})


async def test_restart_node_component_goes_through_the_agent_under_the_defender(
    kube: KubeClient, sandbox: Sandbox, namespace: str, standins: StandIns
) -> None:
    await install_crd(kube)
    nodes = await kube.list_all("/api/v1/nodes")
    target = next(n for n in nodes if n["metadata"]["labels"].get("type") != "real")["metadata"]["name"]
    # A pod standing for the DaemonSet's agent pod on that (kwok) node; the agent runs here.
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "agent", "labels": {"app.kubernetes.io/component": "node-agent"}},
        "spec": {"nodeName": target, "containers": [{"name": "agent", "image": "kubeprobe/kubeprobe"}]},
    }
    await kube.create(f"/api/v1/namespaces/{namespace}/pods", pod)
    cls = ACTIONS.get("restart-node-component")
    action = cls(Target("sandbox", "Node", target), {"component": "kubelet", "reason": "test"})
    guard = defender()
    rid = f"remediation-{uuid.uuid4().hex[:6]}"
    before = await running(standins, "kubelet-0")
    try:
        dry = await attempt(
            guard, action, ActionContext(kube), await observe(kube), remediation=rid, mode=Mode.SHADOW
        )
        shown = json.loads(next(line for line in dry.plan.lines() if line.startswith("object: "))[8:])
        assert shown["kind"] == "RemedyOperation"
        assert shown["spec"]["nodeName"] == target
        assert dry.state == "shadow"
        assert not await kube.list_all(ops.COLLECTION, fieldSelector=f"spec.nodeName={target}")
        async with agent_running(kube, target, standins):
            ctx = ActionContext(kube, timeout=30)
            done = await attempt(guard, action, ctx, await observe(kube), remediation=rid, mode=Mode.AUTO)
        assert done.state == "verified", done
        assert standins.pid("kubelet-0") != before
        (made,) = ops.of_remediation(await kube.list_all(ops.COLLECTION), rid)
        assert made["metadata"]["name"] == shown["metadata"]["name"]  # what the dry run showed
        assert made["status"]["phase"] == "Succeeded"
        assert made["spec"]["reason"] == "test"
    finally:
        await delete_ops(kube, target)
