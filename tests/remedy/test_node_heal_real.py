"""A real node whose kubelet is stopped is healed through the node agent (issue 18's node case):
NotReady → node-probe fails → node.not_ready → cordon and drain → a RemedyOperation that the
agent's DaemonSet pod on that node carries out (the kubelet started again through the sandbox's
supervisor) → node Ready → uncordon → node-probe passes → the incident resolves.

The node controller needs its grace period (50 s in the sandbox) to call the node NotReady: most
of this test's time (about 2 minutes with the image built and the sandbox up)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeprobe.kube.client import KubeClient
from kubeprobe.sandbox.cluster import Sandbox
from tests.deploy.conftest import helm, helm_bin  # noqa: F401 (fixtures)
from tests.remedy.node_heal import Helm, heal_node_once, healing_center, node_agent_installed, uncordon

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def node_agent(helm: Helm, real_sandbox: Sandbox, kubeprobe_image: str, tmp_path: Path) -> Iterator[None]:  # noqa: F811
    with node_agent_installed(helm, real_sandbox, kubeprobe_image, tmp_path):
        yield


async def test_a_stopped_kubelet_is_healed_through_the_node_agent(
    node_agent: None, real_sandbox: Sandbox, real_kube: KubeClient, tmp_path: Path
) -> None:
    try:
        async with healing_center(tmp_path, real_sandbox) as http:
            got = await heal_node_once(http, real_sandbox, real_kube)
    finally:  # whatever happened, the node goes back into service for the other tests
        await uncordon(real_kube, real_sandbox)
    actions = [(action, state) for _, action, state in got["remediations"]]
    assert actions == [
        ("node-drain", "verified"),
        ("restart-node-component", "verified"),
        ("node-uncordon", "verified"),
    ], got["remediations"]
    status = got["operation"]["status"]
    assert status["phase"] == "Succeeded", status
    assert status["agent"].startswith("kp-node-agent-"), status  # the DaemonSet's pod did it
    assert "kubelet (kubelet-0) was stopped; the supervisor started it again" in status["message"]
    assert got["green"] == "succeeded"
    assert not got["node"]["spec"].get("unschedulable")
    assert got["incident"]["cause"] == "node.not_ready"
    print(f"node heal: { ({k: round(v, 1) for k, v in got.items() if k.endswith('_s')}) }")
