"""The RemedyOperation contract as the agent reads it: hostile objects are refused with a reason."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kubeprobe.remedy import operations as ops
from tests.deploy.conftest import OPERATOR_CHART

NODE = "node-1"


def op(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "x", "uid": "u", "generation": 2, "resourceVersion": "7"},
        "spec": {"nodeName": NODE, "action": "restart-kubelet", **spec},
    }


def test_a_well_formed_operation_is_parsed() -> None:
    got = ops.parse(op(reason="incident 3", timeoutSeconds=30), NODE)
    assert (got.component, got.timeout_seconds, got.generation) == ("kubelet", 30, 2)
    assert got.reason == "incident 3"


@pytest.mark.parametrize(
    ("obj", "why"),
    [
        (op(action="rm -rf /"), "unknown action 'rm -rf /'; this agent carries out only: restart-kubelet"),
        (op(nodeName="node-2"), "is not this agent's node"),
        (op(reason="x" * 5000), "spec.reason is 5000 characters long; at most 1024"),
        (op(nodeName="n" * 300), "spec.nodeName is 300 characters long"),
        (op(timeoutSeconds=10**9), "spec.timeoutSeconds must be a whole number from 1 to 900"),
        (op(timeoutSeconds=True), "spec.timeoutSeconds must be a whole number"),
        (op(action=["restart-kubelet"]), "spec.action must be a string"),
        (op(command="reboot"), "unknown spec field(s) command"),
        ({"metadata": {}, "spec": "restart-kubelet"}, "metadata and spec must be objects"),
        ([], "metadata and spec must be objects"),
    ],
)
def test_hostile_operations_are_refused_with_the_reason(obj: Any, why: str) -> None:
    with pytest.raises(ops.OperationRefused, match=None) as caught:
        ops.parse(obj, NODE)
    assert why in str(caught.value)
    assert len(str(caught.value)) < 400  # an echo of hostile input is bounded


def test_the_body_names_its_remediation_and_is_bounded() -> None:
    name = "Remediation 12!"
    body = ops.operation_body(
        NODE, "restart-kube-proxy", remediation=name, nonce="f00", timeout_seconds=10**7
    )
    assert body["metadata"]["name"] == "remediation-12-restart-kube-proxy-f00"
    assert ops.of_remediation([body], name) == [body]
    assert body["spec"]["timeoutSeconds"] == 900
    assert ops.parse({**body, "metadata": {**body["metadata"], "uid": "u"}}, NODE).component == "kube-proxy"
    with pytest.raises(ops.OperationRefused):
        ops.operation_body(NODE, "reboot", remediation="r", nonce="f00")


def test_the_crd_states_the_bounds_the_agent_holds() -> None:
    crd = yaml.safe_load((OPERATOR_CHART / "crds" / "remedyoperations.yaml").read_text())
    assert crd["metadata"]["name"] == ops.CRD_NAME
    version = crd["spec"]["versions"][0]
    assert version["name"] == ops.VERSION
    assert "status" in version["subresources"]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert spec["action"]["enum"] == list(ops.ACTIONS)
    assert spec["reason"]["maxLength"] == ops.MAX_REASON
    assert spec["nodeName"]["maxLength"] == ops.MAX_NAME
    assert (spec["timeoutSeconds"]["minimum"], spec["timeoutSeconds"]["maximum"]) == ops.TIMEOUT_RANGE
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    assert status["message"]["maxLength"] == ops.MAX_MESSAGE
    assert set(status["phase"]["enum"]) == {ops.PENDING, *ops.TERMINAL, ops.RUNNING}
    columns = {c["name"] for c in version["additionalPrinterColumns"]}
    assert {"Node", "Action", "Phase", "Age"} <= columns
