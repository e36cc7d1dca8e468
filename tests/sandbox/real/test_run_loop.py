"""The whole loop on a real node: the pod runner starts a case's pod, the case's code runs in a
real container from the KubeProbe image, reports to the center over the pod network, and the run
ends as the case (or its container) ended; nothing is left behind."""

from __future__ import annotations

import uuid
from typing import Any

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.podsecurity import restricted
from kubeprobe.kube.waiting import wait_for
from kubeprobe.runners.pod import NAMESPACE, RUN_LABEL
from kubeprobe.sandbox import realnode
from kubeprobe.sandbox.realcluster import RUNNER_OVERRIDES
from tests.center.services.test_dispatcher import Center
from tests.sandbox.real.conftest import CLUSTER, AddTemplate

IN_POD = ["python", "-m", "kubeprobe.cases"]


async def run_with_runner(center: Center, case: str) -> dict[str, Any]:
    """Run ``case`` on the real sandbox; return the run once the runner's view is recorded too
    (a case that reported ends its run before its pod is gone)."""
    run = await center.run(case, CLUSTER)

    async def get() -> dict[str, Any]:
        return dict((await center.http.get(f"/api/v1/runs/{run['id']}")).json())

    return await wait_for(get, lambda r: "runner" in (r["details"] or {}), timeout=60, what="runner's view")


async def _nothing_left(kube: KubeClient, run_id: str) -> None:
    async def leftovers() -> list[str]:
        found = []
        for kind in ("pods", "configmaps"):
            path = f"/api/v1/namespaces/{NAMESPACE}/{kind}"
            items = await kube.list_all(path, labelSelector=f"{RUN_LABEL}={run_id}")
            found += [f"{kind}/{i['metadata']['name']}" for i in items]
        return found

    assert await wait_for(leftovers, lambda x: not x, timeout=60, what="run pods gone") == []


async def test_builtin_probe_runs_in_a_container_and_reports_over_the_pod_network(
    real_center: Center, pod_template: AddTemplate, real_kube: KubeClient
) -> None:
    name = await pod_template("pod-lifecycle-in-pod", [*IN_POD, "pod-lifecycle"], builtin="pod-lifecycle")
    run = await run_with_runner(real_center, name)
    assert run["state"] == "succeeded", (run["messages"], run["details"])
    assert [s["name"] for s in run["steps"]] == ["create", "scheduled", "running", "delete"]
    runner = run["details"]["runner"]
    assert (runner["end"], runner["exit_code"]) == ("exited", 0), runner
    await _nothing_left(real_kube, run["id"])


async def test_a_failing_case_ends_failed(real_center: Center, pod_template: AddTemplate) -> None:
    # The probe's own pod asks for the real node without tolerating its taint: never scheduled.
    params = {"node_selector": {realnode.TAINT_KEY: "true"}, "scheduled_seconds": 3}
    name = await pod_template(
        "pod-lifecycle-unschedulable", [*IN_POD, "pod-lifecycle"], builtin="pod-lifecycle", params=params
    )
    run = await run_with_runner(real_center, name)
    assert run["state"] == "failed", (run["messages"], run["details"])
    assert "scheduled" in run["messages"][0], run["messages"]
    assert run["details"]["runner"]["exit_code"] == 1


async def test_a_crashing_case_is_an_error_with_its_exit_code_and_logs(
    real_center: Center, pod_template: AddTemplate, real_kube: KubeClient
) -> None:
    crash = "import sys; print('case blew up: no config', flush=True); sys.exit(7)"
    name = await pod_template("crashing-case", ["python", "-c", crash])
    run = await run_with_runner(real_center, name)
    assert run["state"] == "error", run
    assert "exit code 7" in run["messages"][0], run["messages"]
    runner = run["details"]["runner"]
    assert runner["exit_code"] == 7
    assert "case blew up: no config" in runner["logs"]
    await _nothing_left(real_kube, run["id"])


async def test_a_missing_image_is_an_error_naming_it(
    real_center: Center, pod_template: AddTemplate, real_kube: KubeClient
) -> None:
    # A registry that refuses at once (the node's own loopback): a name to resolve would cost the
    # node's resolver timeout (~50 s) before the pull fails.
    image = f"127.0.0.1:1/kubeprobe/not-loaded-{uuid.uuid4().hex[:6]}:1"
    name = await pod_template("missing-image", ["kubeprobe"], image=image)
    run = await run_with_runner(real_center, name)
    assert run["state"] == "error", run
    assert f"image {image} cannot be pulled" in run["messages"][0], run["messages"]
    await _nothing_left(real_kube, run["id"])


async def test_restricted_pods_run_with_runtime_default_seccomp(
    real_kube: KubeClient, real_namespace: str, kubeprobe_image: str
) -> None:
    """Run pods are `restricted` (seccompProfile RuntimeDefault): runc applies the filter."""
    spec: dict[str, Any] = restricted(
        {
            "restartPolicy": "Never",
            "containers": [
                {"name": "c", "image": kubeprobe_image, "command": ["grep", "^Seccomp:", "/proc/self/status"]}
            ],
            **RUNNER_OVERRIDES,
        }
    )
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    pods = f"/api/v1/namespaces/{real_namespace}/pods"
    await real_kube.create(pods, {"metadata": {"name": "seccomp"}, "spec": spec})
    pod = await wait_for(
        lambda: real_kube.get(f"{pods}/seccomp"),
        lambda p: (p.get("status") or {}).get("phase") in ("Succeeded", "Failed"),
        timeout=60,
        what="the seccomp pod to end",
    )
    log = str(await real_kube.request("GET", f"{pods}/seccomp/log"))
    assert pod["status"]["phase"] == "Succeeded", (pod["status"], log)
    assert log.split() == ["Seccomp:", "2"], log  # 2: a seccomp filter is in force
