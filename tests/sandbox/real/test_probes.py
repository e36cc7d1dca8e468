"""node-probe and service-probe (with DNS through CoreDNS) pass on the mixed real + kwok sandbox,
run as pods on the real node as a center would run them: node-probe places a pause pod on the
real node (its containerd really runs it) and on the kwok node; service-probe's ``dns`` step
resolves its Service's name from inside the run pod (the pod's resolv.conf → kube-dns Service →
kube-proxy's rules in the node's namespace → CoreDNS on the host)."""

from __future__ import annotations

import asyncio

from kubeprobe.kube.client import KubeClient
from tests.center.services.test_dispatcher import Center
from tests.sandbox.real.conftest import AddTemplate
from tests.sandbox.real.test_run_loop import IN_POD, run_with_runner


async def test_node_probe_runs_a_pod_on_the_real_and_the_kwok_node(
    real_center: Center, pod_template: AddTemplate, real_kube: KubeClient
) -> None:
    name = await pod_template("node-probe-in-pod", [*IN_POD, "node-probe"], builtin="node-probe")
    seen: dict[str, str] = {}  # the probe's pods (outside kubeprobe-system) and their nodes

    async def watch() -> None:
        while True:
            for pod in await real_kube.list_all("/api/v1/pods", labelSelector="kubeprobe.io/app"):
                seen[pod["metadata"]["name"]] = (pod.get("spec") or {}).get("nodeName", "")
            await asyncio.sleep(0.1)

    watcher = asyncio.create_task(watch())
    try:
        run = await run_with_runner(real_center, name)
    finally:
        watcher.cancel()
    assert run["state"] == "succeeded", (run["messages"], run["details"])
    assert [s["name"] for s in run["steps"]] == ["nodes", "create", "running", "delete"]
    assert "to real-node-0" in " ".join(run["details"]["runner"]["events"])  # the run pod
    assert {"real-node-0", "kwok-node-0"} <= set(seen.values()), seen  # the probe's pods


async def test_service_probe_resolves_its_service_through_cluster_dns(
    real_center: Center, pod_template: AddTemplate
) -> None:
    name = await pod_template(
        "service-probe-in-pod",
        [*IN_POD, "service-probe"],
        builtin="service-probe",
        params={"check_dns": True},
    )
    run = await run_with_runner(real_center, name)
    assert run["state"] == "succeeded", (run["messages"], run["details"])
    assert [s["name"] for s in run["steps"]] == ["create", "pods-ready", "endpoints", "dns", "delete"]
