"""The pod runner against a real API server: what it creates, how it sees the end, what it cleans up."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import uuid

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import NotFoundError
from kubeprobe.kube.waiting import wait_for
from kubeprobe.model import CaseKind, CaseSpec
from kubeprobe.runners.base import RunEnd, RunRequest
from kubeprobe.runners.pod import NAMESPACE, RUN_LABEL, PodRunner, sweep
from kubeprobe.sandbox.cluster import Sandbox

CASE = CaseSpec(
    "kh-check",
    "khcheck-demo",
    CaseKind.PROBE,
    60,
    params={"target": "x"},
    image="example/kh-check:1",
    rbac_rules=({"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},),
)
PODS = f"/api/v1/namespaces/{NAMESPACE}/pods"


def request(sandbox: Sandbox, seconds: float = 30) -> RunRequest:
    return RunRequest(
        run_id=f"pr-{uuid.uuid4().hex[:10]}",
        case=CASE,
        cluster="sandbox",
        kubeconfig=sandbox.kubeconfig.read_text(),
        report_url="http://center.example/api/v1/runs/x/report",
        report_token="tok",
        deadline=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds),
    )


async def _pod(kube: KubeClient, run_id: str) -> dict:  # type: ignore[type-arg]
    pods = await wait_for(
        lambda: kube.list_all(PODS, labelSelector=f"{RUN_LABEL}={run_id}"), bool, timeout=20, what="run pod"
    )
    return pods[0]


async def play_kubelet(
    kube: KubeClient,
    pod: dict,  # type: ignore[type-arg]
    task: asyncio.Task[RunEnd],
    state: dict,  # type: ignore[type-arg]
    phase: str | None = None,
) -> RunEnd:
    """Write the case container's ``state`` (and the pod's ``phase``) as a kubelet would, until the
    runner ends: kwok plays the kubelet too and may write its own status over ours (a CI run lost
    that race), so keep saying it."""
    container = {"name": "case", "image": CASE.image, "imageID": "", "ready": False, "restartCount": 0}
    status: dict = {"containerStatuses": [{**container, "state": state}]}  # type: ignore[type-arg]
    if phase:
        status["phase"] = phase
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not task.done() and loop.time() < deadline:
        with contextlib.suppress(NotFoundError):
            await kube.patch(f"{PODS}/{pod['metadata']['name']}/status", {"status": status}, "strategic")
        await asyncio.wait([task], timeout=1)
    return await asyncio.wait_for(task, 1)


async def _gone(kube: KubeClient, run_id: str) -> None:
    await wait_for(
        lambda: kube.list_all(PODS, labelSelector=f"{RUN_LABEL}={run_id}"),
        lambda p: not p,
        timeout=30,
        what="run pod gone",
    )
    anchors = await kube.list_all(
        f"/api/v1/namespaces/{NAMESPACE}/configmaps", labelSelector=f"{RUN_LABEL}={run_id}"
    )
    assert anchors == []


async def test_pod_carries_contract_owner_and_rbac_and_ends_on_exit(
    sandbox: Sandbox, kube: KubeClient
) -> None:
    req = request(sandbox)
    task = asyncio.create_task(PodRunner().run(req))
    pod = await _pod(kube, req.run_id)
    env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
    assert env["KUBEPROBE_RUN_ID"] == req.run_id
    assert env["KH_RUN_UUID"] == req.report_token
    assert env["TARGET"] == "x"
    assert env["KH_POD_NAMESPACE"] == NAMESPACE
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "ConfigMap"
    assert pod["spec"]["serviceAccountName"] == "kp-case-khcheck-demo"
    role = await kube.get("/apis/rbac.authorization.k8s.io/v1/clusterroles/kubeprobe:case:khcheck-demo")
    assert role["rules"][0]["verbs"] == ["get", "list"]
    # Play the kubelet: the container ends with exit code 0.
    end = await play_kubelet(
        kube, pod, task, {"terminated": {"exitCode": 0, "reason": "Completed"}}, "Succeeded"
    )
    assert end.state == "exited", end
    assert end.exit_code == 0, end
    await _gone(kube, req.run_id)


async def test_deadline_times_out_and_cleans_up(sandbox: Sandbox, kube: KubeClient) -> None:
    req = request(sandbox, seconds=3)
    end = await PodRunner().run(req)  # kwok keeps the pod Running: it never ends by itself
    assert end.state == "timed_out"
    await _gone(kube, req.run_id)


async def test_unschedulable_is_an_error_with_the_reason(sandbox: Sandbox, kube: KubeClient) -> None:
    runner = PodRunner(unschedulable_grace_seconds=0, pod_overrides={"nodeSelector": {"pool": "nowhere"}})
    req = request(sandbox)
    end = await runner.run(req)
    assert end.state == "error"
    assert "cannot be scheduled: 0/" in end.reason
    assert "node affinity/selector" in end.reason
    await _gone(kube, req.run_id)


async def test_image_pull_failure_is_an_error(sandbox: Sandbox, kube: KubeClient) -> None:
    req = request(sandbox)
    task = asyncio.create_task(PodRunner().run(req))
    pod = await _pod(kube, req.run_id)
    waiting = {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}
    end = await play_kubelet(kube, pod, task, waiting)
    assert end.state == "error"
    assert end.reason.startswith("image example/kh-check:1 cannot be pulled: ImagePullBackOff")
    await _gone(kube, req.run_id)


async def test_sweeper_removes_what_a_crash_left(sandbox: Sandbox, kube: KubeClient) -> None:
    req = request(sandbox, seconds=30)
    # A center that crashed right after creating the run: anchor and pod exist, nobody watches.
    await PodRunner()._create(kube, req)
    await _pod(kube, req.run_id)
    assert req.run_id not in await sweep(kube)  # still within its deadline: kept
    cleaned = await sweep(kube, now=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    assert req.run_id in cleaned
    await _gone(kube, req.run_id)


async def _allowed(kube: KubeClient, account: str, verb: str, resource: str, group: str = "") -> bool:
    """Ask the API server (SubjectAccessReview) whether the ServiceAccount may do this."""
    review = await kube.create(
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": f"system:serviceaccount:{NAMESPACE}:{account}",
                "groups": [
                    "system:serviceaccounts",
                    f"system:serviceaccounts:{NAMESPACE}",
                    "system:authenticated",
                ],
                "resourceAttributes": {
                    "verb": verb,
                    "resource": resource,
                    "group": group,
                    "namespace": "default",
                },
            },
        },
    )
    return bool(review["status"].get("allowed"))


async def test_the_templates_account_may_do_exactly_what_it_declares(
    sandbox: Sandbox, kube: KubeClient
) -> None:
    rules = (
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["create"]},
    )
    case = dataclasses.replace(CASE, template="rbac-exact", rbac_rules=rules)
    req = dataclasses.replace(request(sandbox, seconds=3), case=case)
    runner = PodRunner()
    assert (await runner.run(req)).state == "timed_out"
    account = "kp-case-rbac-exact"
    for verb, resource, group in (
        ("get", "configmaps", ""),
        ("list", "configmaps", ""),
        ("create", "deployments", "apps"),
    ):
        assert await _allowed(kube, account, verb, resource, group), (verb, resource)
    for verb, resource, group in (
        ("create", "configmaps", ""),
        ("delete", "configmaps", ""),
        ("get", "secrets", ""),
        ("list", "pods", ""),
        ("get", "deployments", "apps"),
        ("delete", "deployments", "apps"),
        ("create", "clusterroles", "rbac.authorization.k8s.io"),
    ):
        assert not await _allowed(kube, account, verb, resource, group), (verb, resource)
    # The template drops its rules: the account may do nothing any more.
    bare = dataclasses.replace(
        req, run_id=f"pr-{uuid.uuid4().hex[:10]}", case=dataclasses.replace(case, rbac_rules=())
    )
    assert (await PodRunner().run(bare)).state == "timed_out"
    assert not await _allowed(kube, account, "get", "configmaps")
