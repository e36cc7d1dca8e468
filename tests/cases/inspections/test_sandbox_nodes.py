"""Node, pod-CIDR, kubelet-skew and inventory checks against real nodes with faults injected."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.waiting import wait_for
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults
from tests.cases.inspections.live import about, manual_node, pod, sweep

TAINT = "kubeprobe.io/insp-only"
CHECKS = [
    "node.not-ready",
    "node.pressure",
    "node.cordoned",
    "node.untolerated-taint",
    "network.overlapping-pod-cidr",
    "version.kubelet-skew",
    "inventory.node-mismatch",
]


@pytest.fixture
def inventory_server() -> Iterator[Callable[[list[str]], str]]:
    """A local HTTP endpoint answering a JSON node list, as a CMDB would."""
    state: dict[str, bytes] = {"body": b"[]"}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(state["body"])

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def serve(names: list[str]) -> str:
        state["body"] = json.dumps({"items": [{"name": n} for n in names]}).encode()
        return f"http://127.0.0.1:{server.server_port}/nodes"

    try:
        yield serve
    finally:
        server.shutdown()
        server.server_close()


async def _node_names(kube: KubeClient) -> list[str]:
    return [n["metadata"]["name"] for n in await kube.list_all("/api/v1/nodes")]


async def test_node_checks(  # noqa: PLR0917 (pytest fixtures)
    kube: KubeClient,
    namespace: str,
    sandbox: Sandbox,
    add_nodes: Callable[..., Awaitable[list[str]]],
    inventory_server: Callable[[list[str]], str],
    tmp_path: Path,
) -> None:
    faults = Faults(sandbox)
    [kwok] = await add_nodes(1, {"kubeprobe.io/test": "inspections"})
    old = f"insp-old-{uuid.uuid4().hex[:6]}"
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        # A node with an old kubelet, memory pressure and a pod range over other nodes' ranges.
        await kube.create("/api/v1/nodes", manual_node(old, cidr="10.128.0.0/16"))
        conditions = [
            {
                "type": t,
                "status": s,
                "reason": r,
                "message": r,
                "lastHeartbeatTime": now,
                "lastTransitionTime": now,
            }
            for t, s, r in (
                ("Ready", "True", "KubeletReady"),
                ("MemoryPressure", "True", "KubeletHasInsufficientMemory"),
            )
        ]
        info = {
            "kubeletVersion": "v1.30.1",
            "kubeProxyVersion": "v1.30.1",
            "machineID": "",
            "systemUUID": "",
            "bootID": "",
            "kernelVersion": "",
            "osImage": "",
            "containerRuntimeVersion": "",
            "operatingSystem": "linux",
            "architecture": "amd64",
        }
        await kube.patch(
            f"/api/v1/nodes/{old}/status",
            {"status": {"conditions": conditions, "nodeInfo": info}},
            "strategic",
        )
        # A kwok node made NotReady, cordoned and tainted with a taint nothing tolerates.
        await faults.node_not_ready(kwok)
        await faults.cordon(kwok)
        await faults.taint(kwok, TAINT, "yes", "NoSchedule")
        await wait_for(
            lambda: kube.get(f"/api/v1/nodes/{kwok}"),
            lambda n: any(
                t.get("key") == "node.kubernetes.io/unschedulable" for t in n["spec"].get("taints") or []
            ),
            timeout=30,
            what="cordon taint with its time",
        )
        names = await _node_names(kube)
        known = [n for n in names if n != kwok] + ["insp-planned-node"]
        csv = tmp_path / "inventory.csv"
        csv.write_text("name,rack\n" + "".join(f"{n},r1\n" for n in known))

        report = await sweep(kube, CHECKS, cordon_hours=0, inventory=str(csv))
        assert about(report, "node.not-ready", name=kwok)
        assert [f.object.name for f in about(report, "node.pressure") if f.object] == [old]
        assert about(report, "node.cordoned", name=kwok)
        [taint] = [f for f in about(report, "node.untolerated-taint") if TAINT in f.message]
        assert taint.details["nodes"] == [kwok]
        assert about(report, "network.overlapping-pod-cidr", name=old) or any(
            f.details.get("other_node") == old for f in about(report, "network.overlapping-pod-cidr")
        )
        assert [f.object.name for f in about(report, "version.kubelet-skew") if f.object] == [old]
        sides = {
            (f.object.name, f.details["side"]) for f in about(report, "inventory.node-mismatch") if f.object
        }
        assert sides == {(kwok, "cluster"), ("insp-planned-node", "inventory")}
        url = inventory_server(known)
        over_http = await sweep(kube, ["inventory.node-mismatch"], inventory=url)
        assert {f.object.name for f in over_http.findings if f.object} == {kwok, "insp-planned-node"}

        # A workload that tolerates the taint makes it legitimate.
        toleration = {"key": TAINT, "operator": "Exists", "effect": "NoSchedule"}
        await kube.create(f"/api/v1/namespaces/{namespace}/pods", pod("tolerant", tolerations=[toleration]))
        tolerated = await sweep(kube, ["node.untolerated-taint"])
        assert not [f for f in tolerated.findings if TAINT in f.message]
    finally:
        await faults.untaint(kwok, TAINT)
        await faults.cordon(kwok, on=False)
        await faults.node_ready(kwok)
        await kube.delete(f"/api/v1/nodes/{old}")

    inventory_url = inventory_server(await _node_names(kube))
    healed = await sweep(kube, CHECKS, cordon_hours=0, inventory=inventory_url)
    assert [f for f in healed.findings if f.object and f.object.name in (kwok, old)] == []
    assert about(healed, "inventory.node-mismatch") == []
    await kube.delete(f"/api/v1/nodes/{kwok}")
