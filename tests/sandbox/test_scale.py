"""Filling a sandbox at scale: the etcd bulk loader writes pods the API server reads back whole."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import AsyncIterator

import orjson
import pytest
import pytest_asyncio

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.waiting import wait_for
from kubeprobe.sandbox.build import Builder
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.errors import SandboxStateError
from kubeprobe.sandbox.nodes import pod_cidr
from kubeprobe.sandbox.scale import (
    SCALE_LABEL,
    bulk_load_pods,
    pod_ip,
    pod_template,
    populate,
    render_pod,
)


def running_pod() -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "pod-0",
            "namespace": "scale-0",
            "uid": "u-0",
            "resourceVersion": "17",
            "managedFields": [{"manager": "kwok"}],
            "labels": {"app": "app-0", SCALE_LABEL: "true"},
        },
        "spec": {"nodeName": "kwok-node-0", "containers": [{"name": "main", "image": "pause"}]},
        "status": {"phase": "Running", "podIP": "10.128.0.1", "podIPs": [{"ip": "10.128.0.1"}]},
    }


def test_pod_ips_stay_inside_the_nodes_cidr_and_skip_the_first_addresses() -> None:
    assert pod_ip(0, 0) == "10.128.0.2"
    assert pod_ip(257, 3) == "10.129.1.5"
    net = ipaddress.ip_network(pod_cidr(9000))
    assert all(ipaddress.ip_address(pod_ip(9000, s)) in net for s in (0, 100, 249))
    with pytest.raises(SandboxStateError, match="at most 250"):
        pod_ip(0, 250)


def test_template_drops_server_fields_and_renders_each_pod() -> None:
    template = pod_template(running_pod())
    values = {
        "@NAME@": "pod-7",
        "@NS@": "scale-1",
        "@UID@": "u-7",
        "@NODE@": "kwok-node-3",
        "@APP@": "app-7",
        "@POD_IP@": "10.128.3.3",
        "@HOST_IP@": "",
    }
    pod = orjson.loads(render_pod(template, values))
    assert pod["metadata"]["name"] == "pod-7"
    assert pod["metadata"]["namespace"] == "scale-1"
    assert pod["metadata"]["uid"] == "u-7"
    assert "resourceVersion" not in pod["metadata"]
    assert "managedFields" not in pod["metadata"]
    assert pod["metadata"]["labels"] == {"app": "app-7", SCALE_LABEL: "true"}
    assert pod["spec"]["nodeName"] == "kwok-node-3"
    assert pod["status"]["podIP"] == "10.128.3.3"
    assert pod["status"]["podIPs"] == [{"ip": "10.128.3.3"}]
    assert "hostIP" not in pod["status"]  # the model had none: none is invented


def test_template_must_be_a_running_pod_with_an_ip() -> None:
    pending = running_pod()
    pending["status"] = {"phase": "Pending"}
    with pytest.raises(SandboxStateError, match="not Running"):
        pod_template(pending)


async def test_bulk_loader_refuses_a_sandbox_that_stores_protobuf(sandbox: Sandbox, kube: KubeClient) -> None:
    assert not sandbox.json_storage
    with pytest.raises(SandboxStateError, match="json_storage"):
        await bulk_load_pods(sandbox, kube, first=1, pods=10, nodes=3, ns_names=["default"])


@pytest_asyncio.fixture(loop_scope="session")
async def json_sandbox() -> AsyncIterator[Sandbox]:
    box = Sandbox(f"pytest-bulk-{uuid.uuid4().hex[:6]}")
    await box.up(Builder().build(), node_count=0, json_storage=True)
    try:
        yield box
    finally:
        box.down()


@pytest.mark.sandbox
async def test_bulk_loaded_pods_are_read_back_whole_through_the_api(json_sandbox: Sandbox) -> None:
    nodes, pods = 4, 60
    await populate(json_sandbox, nodes=nodes, pods=pods, namespaces=3)
    async with json_sandbox.client() as kube:
        listed = await kube.list_all("/api/v1/pods", labelSelector=SCALE_LABEL)
        assert len(listed) == pods
        assert {p["status"]["phase"] for p in listed} == {"Running"}
        assert len({p["metadata"]["uid"] for p in listed}) == pods
        assert len({p["status"]["podIP"] for p in listed}) == pods
        cidrs = {}
        for node in await kube.list_all("/api/v1/nodes", labelSelector="type=kwok"):
            cidrs[node["metadata"]["name"]] = ipaddress.ip_network(node["spec"]["podCIDR"])
        for p in listed:
            assert ipaddress.ip_address(p["status"]["podIP"]) in cidrs[p["spec"]["nodeName"]]
        one = await kube.get("/api/v1/namespaces/scale-2/pods/pod-59")
        assert one["spec"]["nodeName"] == "kwok-node-3"
        assert one["metadata"]["labels"]["app"] == "app-59"
        assert int(one["metadata"]["resourceVersion"]) > 0
        # The API server treats it as any pod: it can be deleted (kwok finalizes the deletion).
        await kube.delete("/api/v1/namespaces/scale-2/pods/pod-59")
        left = await wait_for(
            lambda: kube.list_all("/api/v1/pods", labelSelector=SCALE_LABEL),
            lambda items: len(items) == pods - 1,
            timeout=60,
            what="the deleted bulk-loaded pod to go",
        )
        assert "pod-59" not in {p["metadata"]["name"] for p in left}
