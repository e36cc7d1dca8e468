"""The operator chart installed for real into the sandbox (kwok nodes): its objects are accepted,
the probes namespace enforces Pod Security `restricted`, the center's identity it makes can run a
case through the pod runner (and no more), and `helm uninstall` leaves nothing behind.

The center chart on real nodes (pods that really run) is the real-nodes install in the issue's
note; this is the CI-sized part every run checks.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import uuid
from typing import Any

import pytest
import yaml

from kubeprobe.center.services.builtin import PROBE_RULES
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.config import parse_kubeconfig
from kubeprobe.kube.errors import ForbiddenError, KubeAPIError
from kubeprobe.kube.waiting import wait_for
from kubeprobe.model import CaseKind, CaseSpec
from kubeprobe.runners.base import RunRequest
from kubeprobe.runners.pod import NAMESPACE, PodRunner
from kubeprobe.sandbox.cluster import Sandbox
from tests.deploy.conftest import OPERATOR_CHART, Helm

RELEASE = "kp-target"
INSTANCE = f"app.kubernetes.io/instance={RELEASE}"
PODS = f"/api/v1/namespaces/{NAMESPACE}/pods"


def center_kubeconfig(sandbox: Sandbox, token: str) -> str:
    """The sandbox's kubeconfig with the admin's certificate swapped for kubeprobe-center's token."""
    config = yaml.safe_load(sandbox.kubeconfig.read_text())
    config["users"] = [{"name": "kubeprobe-center", "user": {"token": token}}]
    for ctx in config["contexts"]:
        ctx["context"]["user"] = "kubeprobe-center"
    return yaml.safe_dump(config)


async def _token(kube: KubeClient) -> str:
    secret = await wait_for(
        lambda: kube.get(f"/api/v1/namespaces/{NAMESPACE}/secrets/kubeprobe-center-token"),
        lambda s: bool((s.get("data") or {}).get("token")),
        timeout=60,
        what="kubeprobe-center's token",
    )
    return base64.b64decode(secret["data"]["token"]).decode()


async def _finish(kube: KubeClient, name: str) -> None:
    """Play the kubelet (kwok keeps pods Running): the run's container exits 0."""
    status = {
        "phase": "Succeeded",
        "containerStatuses": [
            {
                "name": "case",
                "image": "kubeprobe/kubeprobe:0.1.0",
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
            }
        ],
    }
    await kube.patch(f"{PODS}/{name}/status", {"status": status}, "strategic")


async def _leftovers(kube: KubeClient) -> list[str]:
    found = []
    for path in (
        "/api/v1/namespaces",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        "/apis/apps/v1/deployments",
        "/api/v1/serviceaccounts",
    ):
        items: list[dict[str, Any]] = await kube.list_all(path, labelSelector=INSTANCE)
        found += [f"{path.rsplit('/', 1)[-1]}/{i['metadata']['name']}" for i in items]
    return found


async def test_operator_chart_installs_runs_a_case_as_the_center_and_uninstalls_clean(
    sandbox: Sandbox, kube: KubeClient, helm: Helm
) -> None:
    kcfg = str(sandbox.kubeconfig)
    ns = f"kp-chart-{uuid.uuid4().hex[:6]}"
    values = OPERATOR_CHART / "ci" / "default-values.yaml"
    # Earlier runs of the pod runner may have made kubeprobe-system (labelled by its field manager)
    # or case roles: the chart takes them over.
    adopt = ["--take-ownership", "--force-conflicts"]
    install = ["--kubeconfig", kcfg, "-n", ns, "--create-namespace", *adopt, "-f", str(values)]
    try:
        await asyncio.to_thread(
            helm,
            "install",
            RELEASE,
            str(OPERATOR_CHART),
            *install,
            "--wait",
            "--timeout",
            "180s",
            timeout=240,
        )
        await _check_installed(sandbox, kube)
    finally:
        await asyncio.to_thread(
            helm,
            "uninstall",
            RELEASE,
            "--kubeconfig",
            kcfg,
            "-n",
            ns,
            "--wait",
            "--timeout",
            "180s",
            timeout=240,
        )
    left = await wait_for(
        lambda: _leftovers(kube), lambda x: not x, timeout=120, what="nothing of the release"
    )
    assert left == []
    await kube.delete(f"/api/v1/namespaces/{ns}")


async def _check_installed(sandbox: Sandbox, kube: KubeClient) -> None:
    namespace = await kube.get(f"/api/v1/namespaces/{NAMESPACE}")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    # A pod that is not restricted is refused there.
    bare = {"metadata": {"name": "kp-not-restricted"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    with pytest.raises(KubeAPIError, match="violates PodSecurity"):
        await kube.create(PODS, bare)
    # The center's identity runs a case through the pod runner: namespace, account and the case's
    # role exist already; the run's pod is admitted as restricted.
    conn = parse_kubeconfig(center_kubeconfig(sandbox, await _token(kube)), source="kubeprobe-center")
    case = CaseSpec(
        "chart-smoke",
        "apiserver-probe",
        CaseKind.PROBE,
        60,
        image="kubeprobe/kubeprobe:0.1.0",
        rbac_rules=tuple(r.model_dump(exclude_none=True) for r in PROBE_RULES),
    )
    request = RunRequest(
        run_id=f"chart-{uuid.uuid4().hex[:10]}",
        case=case,
        cluster="sandbox",
        kubeconfig=center_kubeconfig(sandbox, await _token(kube)),
        report_url="http://center.example/api/v1/runs/x/report",
        report_token="tok",
        deadline=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60),
    )
    task = asyncio.create_task(PodRunner().run(request))
    pods = await wait_for(
        lambda: kube.list_all(PODS, labelSelector=f"kubeprobe.io/run-id={request.run_id}"),
        bool,
        timeout=30,
        what="the run's pod",
    )
    await _finish(kube, pods[0]["metadata"]["name"])
    end = await asyncio.wait_for(task, 30)
    assert (end.state, end.exit_code) == ("exited", 0), end
    role = await kube.get("/apis/rbac.authorization.k8s.io/v1/clusterroles/kubeprobe:case:apiserver-probe")
    assert role["rules"], "the center set the case role's rules"
    # ... and no more: without remediation it may not touch nodes or workloads elsewhere.
    async with KubeClient(conn) as center:
        nodes = await center.list_all("/api/v1/nodes")
        with pytest.raises(ForbiddenError):
            await center.patch(
                f"/api/v1/nodes/{nodes[0]['metadata']['name']}", {"spec": {"unschedulable": True}}
            )
        with pytest.raises(ForbiddenError):
            await center.create("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "kp-x"}})
