"""Node-side faults on a live real node, each undone: the probe fails naming it and the analysis
names its cause (``runtime.sandbox_failure``, ``node.not_ready``, ``network.dns``,
``runtime.image_pull``); a node without kube-proxy's rules leaves run pods unable to reach the
API server's Service."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

import pytest

from kubeprobe.analysis.classifier import Classifier, default_classifier
from kubeprobe.analysis.diagnosis import Diagnosis, diagnose
from kubeprobe.analysis.evidence import component_evidence
from kubeprobe.analysis.rules import builtin_rules
from kubeprobe.analysis.texts import FailureText
from kubeprobe.cases.execute import Outcome, execute
from kubeprobe.cases.registry import builtin_registry
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.waiting import wait_for
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.nodefaults import NodeFaults
from kubeprobe.sandbox.nodes import is_ready
from tests.center.services.test_dispatcher import Center
from tests.sandbox.real.conftest import KHCHECK_ARCHIVE, AddTemplate
from tests.sandbox.real.test_run_loop import IN_POD, run_with_runner

REAL = "type=real"


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return default_classifier()


async def _node_probe(kube: KubeClient, **params: Any) -> Outcome:
    """node-probe against the real node only, run here (its pods run there)."""
    return await execute(
        builtin_registry().get("node-probe"),
        {"node_selector": REAL, **params},
        kube,
        run_id=f"nf-{uuid.uuid4().hex[:10]}",
        cluster="real",
        case="node-probe",
        deadline=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=150),
    )


async def _cause(kube: KubeClient, classifier: Classifier, step: str, messages: list[str]) -> Diagnosis:
    evidence = await component_evidence(kube)
    return diagnose(  # as the center's analysis does: it knows the API server's address
        FailureText(step, tuple(messages)), classifier, builtin_rules(), evidence, apiserver=kube.conn.server
    )


def _failed_step(body: dict[str, Any]) -> str:
    return next((s["name"] for s in body.get("steps", []) if not s["ok"]), "")


async def test_stopped_runtime_is_a_sandbox_failure(
    real_sandbox: Sandbox, real_kube: KubeClient, classifier: Classifier
) -> None:
    faults = NodeFaults(real_sandbox)
    faults.stop_runtime()
    try:
        started = time.monotonic()
        out = await _node_probe(real_kube, running_seconds=60)
        took = time.monotonic() - started
    finally:
        await faults.start_runtime()
    assert out.state == "failed", out
    assert "Failed to create pod sandbox" in out.body["messages"][0], out.body["messages"]
    # the kubelet's "code = Unavailable" ends the wait at once: the 60 s limit is not waited out
    assert took < 15, took
    found = await _cause(real_kube, classifier, _failed_step(out.body), out.body["messages"])
    assert found.cause == "runtime.sandbox_failure", found
    # undone: the kubelet reconnects to the restarted runtime within seconds (until then its
    # sandboxes still fail with "code = Unavailable", and the probe says so at once)
    after = await wait_for(
        lambda: _node_probe(real_kube), lambda o: o.state == "succeeded", timeout=90, interval=1, what="a run"
    )
    assert after.state == "succeeded"


async def test_stopped_kubelet_is_a_node_not_ready(
    real_sandbox: Sandbox, real_kube: KubeClient, classifier: Classifier
) -> None:
    faults = NodeFaults(real_sandbox)
    node = f"/api/v1/nodes/{real_sandbox.real_nodes['nodes'][0]}"
    faults.stop_kubelet()
    try:
        # The node controller notices after its grace period (50 s here).
        await wait_for(lambda: real_kube.get(node), lambda n: not is_ready(n), timeout=120, what="NotReady")
        out = await _node_probe(real_kube)
    finally:
        await faults.start_kubelet()
    assert out.state == "failed", out
    assert "NotReady (NodeStatusUnknown: Kubelet stopped posting node status.)" in out.body["messages"][0]
    found = await _cause(real_kube, classifier, _failed_step(out.body), out.body["messages"])
    assert found.cause == "node.not_ready", found


async def test_removed_image_is_an_image_pull_failure(
    real_sandbox: Sandbox, real_kube: KubeClient, classifier: Classifier, khcheck_image: str
) -> None:
    faults = NodeFaults(real_sandbox)
    assert faults.remove_image(khcheck_image) == real_sandbox.real_nodes["nodes"]
    try:
        # Nothing to pull from here: the registry's name does not resolve (about 50 s).
        out = await _node_probe(real_kube, image=khcheck_image, running_seconds=65)
    finally:
        faults.load_image(KHCHECK_ARCHIVE)
    assert out.state == "failed", out
    assert "ErrImagePull" in out.body["messages"][0] or "ImagePullBackOff" in out.body["messages"][0], out
    found = await _cause(real_kube, classifier, _failed_step(out.body), out.body["messages"])
    assert found.cause == "runtime.image_pull", found


async def test_stopped_dns_fails_the_service_probe_in_a_pod(
    real_sandbox: Sandbox,
    real_center: Center,
    pod_template: AddTemplate,
    real_kube: KubeClient,
    classifier: Classifier,
) -> None:
    name = await pod_template(
        "service-probe-dns", [*IN_POD, "service-probe"], builtin="service-probe",
        params={"check_dns": True, "dns_seconds": 5},
    )  # fmt: skip
    faults = NodeFaults(real_sandbox)
    faults.stop_dns()
    try:
        run = await run_with_runner(real_center, name)
    finally:
        await faults.start_dns()
    assert run["state"] == "failed", (run["messages"], run["details"])
    assert [s["name"] for s in run["steps"] if not s["ok"]] == ["dns"], run["steps"]
    found = await _cause(real_kube, classifier, "dns", run["messages"])
    assert found.cause == "network.dns", (found, run["messages"])


async def test_stopped_kube_proxy_leaves_pods_without_services(
    real_sandbox: Sandbox,
    real_center: Center,
    pod_template: AddTemplate,
    real_kube: KubeClient,
    classifier: Classifier,
) -> None:
    """Without kube-proxy's rules a pod reaches no Service, not even the API server's: the case in
    the run pod cannot start its work (an error, with the connection failure in its logs), which
    the analysis reads from the log's tail as ``network.connection``."""
    name = await pod_template("pod-lifecycle-no-proxy", [*IN_POD, "pod-lifecycle"], builtin="pod-lifecycle")
    faults = NodeFaults(real_sandbox)
    faults.stop_kube_proxy()
    try:
        run = await run_with_runner(real_center, name)
    finally:
        await faults.start_kube_proxy()
    assert run["state"] == "error", (run["messages"], run["details"])
    logs = run["details"]["runner"]["logs"]
    assert "could not run pod-lifecycle on cluster real: https://10.96.0.1:443: " in logs, run
    assert "timed out" in logs, logs
    tail = [line for line in logs.splitlines()[-3:] if line.strip()]  # what the center's analysis reads
    found = await _cause(real_kube, classifier, "", [*run["messages"], *tail])
    assert found.cause == "network.connection", (found, tail)


async def test_crash_loop_is_a_crash(
    real_sandbox: Sandbox,
    real_kube: KubeClient,
    real_namespace: str,
    classifier: Classifier,
    kubeprobe_image: str,
) -> None:
    faults = NodeFaults(real_sandbox)
    name = await faults.crash_loop(real_namespace, kubeprobe_image)
    pods = f"/api/v1/namespaces/{real_namespace}/pods"

    def waiting(items: list[dict[str, Any]]) -> dict[str, Any]:
        for pod in items:
            for cs in (pod.get("status") or {}).get("containerStatuses") or []:
                state = (cs.get("state") or {}).get("waiting") or {}
                if state.get("reason") == "CrashLoopBackOff":
                    return {"pod": pod["metadata"]["name"], **state}
        return {}

    try:
        items = await wait_for(
            lambda: real_kube.list_all(pods, labelSelector=f"app={name}"),
            lambda i: bool(waiting(i)),
            timeout=90,
            what="CrashLoopBackOff",
        )
    finally:
        await faults.remove_crash_loop(real_namespace)
    state = waiting(items)
    message = f"pod {state['pod']} is not running: {state['reason']}: {state.get('message', '')}"
    found = await _cause(real_kube, classifier, "running", [message])
    assert found.cause == "runtime.crash", (found, message)


async def test_disk_pressure_is_node_pressure(
    real_sandbox: Sandbox, real_kube: KubeClient, classifier: Classifier
) -> None:
    faults = NodeFaults(real_sandbox)
    await faults.disk_pressure()
    try:
        out = await _node_probe(real_kube, running_seconds=10)
    finally:
        await faults.relieve_pressure()
    assert out.state == "failed", out
    found = await _cause(real_kube, classifier, _failed_step(out.body), out.body["messages"])
    assert found.cause == "node.pressure", (found, out.body["messages"])
