"""The fault suite's scenarios: each one fault injected into the sandbox, the cause it must be
reported under, whether a resident probe covers its path, and its undo.

A scenario's ``inject`` and ``undo`` act on the sandbox only (processes through
:class:`kubeprobe.sandbox.faults.Faults`, objects through the API server, etcd through its own API);
what KubeProbe makes of it is measured by ``bench.fault_suite``. Objects a scenario makes carry the
``kubeprobe.io/fault`` label, so a forgotten one is easy to find.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import ConflictError, NotFoundError
from kubeprobe.operator.install import install
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import FAULT_LABEL, Faults
from kubeprobe.sandbox.nodefaults import NodeFaults

NAMESPACE = "kubeprobe-system"
POOL_LABEL = "kubeprobe.io/probe-pool"
CERT_SECRET = "kubeprobe-suite-tls"
CENTER_SA = "kubeprobe-suite-center"
CENTER_BINDING = "kubeprobe-suite-center-admin"
ADMISSION = "/apis/admissionregistration.k8s.io/v1"


@dataclass
class Context:
    """What scenarios act on; ``saved`` keeps what an inject took away for its undo."""

    sandbox: Sandbox
    faults: Faults
    etcd_url: str
    node_faults: NodeFaults | None = None  # a sandbox with a real node
    saved: dict[str, Any] = field(default_factory=dict)

    @property
    def real(self) -> NodeFaults:
        if self.node_faults is None:
            raise RuntimeError("this scenario needs a real node (bench.fault_suite --real-nodes)")
        return self.node_faults

    def kube(self) -> KubeClient:
        return self.sandbox.client(timeout=20)

    async def nodes(self) -> list[str]:
        async with self.kube() as kube:
            return sorted(n["metadata"]["name"] for n in await kube.list_all("/api/v1/nodes"))


Step = Callable[[Context], Awaitable[None]]


@dataclass(frozen=True)
class Scenario:
    name: str
    cause: str
    resident: bool  # a resident probe (few-second interval) covers the broken path
    inject: Step
    undo: Step
    what: str = ""


# -- components -----------------------------------------------------------------------------------
def _pause(component: str) -> tuple[Step, Step]:
    async def inject(ctx: Context) -> None:
        ctx.faults.pause(component)

    async def undo(ctx: Context) -> None:
        await ctx.faults.resume(component)

    return inject, undo


def _stop(component: str) -> tuple[Step, Step]:
    async def inject(ctx: Context) -> None:
        # in a thread: stopping waits for the process to exit (an API server took 15 s), and the
        # suite's loop must go on polling the center meanwhile, or detection times are the stop's
        await asyncio.to_thread(ctx.faults.stop, component)

    async def undo(ctx: Context) -> None:
        await ctx.faults.start(component)

    return inject, undo


async def _etcd_alarm(ctx: Context, action: str) -> None:
    async with httpx.AsyncClient(base_url=ctx.etcd_url, timeout=10) as http:
        members = (await http.post("/v3/cluster/member/list", json={})).json()["members"]
        for member in members:
            body = {"action": action, "memberID": member["ID"], "alarm": "NOSPACE"}
            (await http.post("/v3/maintenance/alarm", json=body)).raise_for_status()


async def etcd_nospace(ctx: Context) -> None:
    """etcd's NOSPACE alarm, as when its backend reaches --quota-backend-bytes: writes are refused."""
    await _etcd_alarm(ctx, "ACTIVATE")


async def etcd_space_back(ctx: Context) -> None:
    await _etcd_alarm(ctx, "DEACTIVATE")


# -- nodes ----------------------------------------------------------------------------------------
async def all_not_ready(ctx: Context) -> None:
    """Every node at once, as when a whole zone loses its network (one after the other, each
    waiting for kwok to turn it NotReady, made the last node's fault 3.5 s late)."""
    await asyncio.gather(*(ctx.faults.node_not_ready(node) for node in await ctx.nodes()))


async def all_ready(ctx: Context) -> None:
    await asyncio.gather(*(ctx.faults.node_ready(node) for node in await ctx.nodes()))


async def one_not_ready(ctx: Context) -> None:
    await ctx.faults.node_not_ready((await ctx.nodes())[0])


async def one_ready(ctx: Context) -> None:
    await ctx.faults.node_ready((await ctx.nodes())[0])


async def _pressure(ctx: Context, on: bool) -> None:
    """Every node reports MemoryPressure (as a kubelet low on memory would), or no longer does."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    condition = {
        "type": "MemoryPressure",
        "status": "True" if on else "False",
        "reason": "KubeletHasInsufficientMemory" if on else "KubeletHasSufficientMemory",
        "message": "kubelet has insufficient memory available" if on else "kubelet has sufficient memory",
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    }
    async with ctx.kube() as kube:
        for node in await ctx.nodes():
            body = {"status": {"conditions": [condition]}}
            await kube.patch(f"/api/v1/nodes/{node}/status", body, "strategic")


async def pressure_on(ctx: Context) -> None:
    await _pressure(ctx, True)


async def pressure_off(ctx: Context) -> None:
    await _pressure(ctx, False)


async def taint_all(ctx: Context) -> None:
    for node in await ctx.nodes():
        await ctx.faults.taint(node, "kubeprobe.io/fault", "suite", "NoSchedule")


async def untaint_all(ctx: Context) -> None:
    for node in await ctx.nodes():
        await ctx.faults.untaint(node, "kubeprobe.io/fault")


async def cordon_all(ctx: Context) -> None:
    for node in await ctx.nodes():
        await ctx.faults.cordon(node)


async def uncordon_all(ctx: Context) -> None:
    for node in await ctx.nodes():
        await ctx.faults.cordon(node, on=False)


async def unlabel_pool(ctx: Context) -> None:
    """The pool label the probe pods select on leaves every node: nothing matches their selector."""
    async with ctx.kube() as kube:
        for node in await ctx.nodes():
            await kube.patch(f"/api/v1/nodes/{node}", {"metadata": {"labels": {POOL_LABEL: None}}})


async def label_pool(ctx: Context) -> None:
    async with ctx.kube() as kube:
        for node in await ctx.nodes():
            await kube.patch(f"/api/v1/nodes/{node}", {"metadata": {"labels": {POOL_LABEL: "true"}}})


async def fill_nodes(ctx: Context) -> None:
    """A pod bound to every node asks for all of its CPU: the probes' 1m no longer fits anywhere."""
    async with ctx.kube() as kube:
        for node in await kube.list_all("/api/v1/nodes"):
            name = node["metadata"]["name"]
            cpu = node["status"]["allocatable"]["cpu"]
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"kubeprobe-fault-hog-{name}"[:63], "labels": {FAULT_LABEL: "hog"}},
                "spec": {
                    "nodeName": name,
                    "containers": [
                        {"name": "hog", "image": "pause", "resources": {"requests": {"cpu": cpu}}}
                    ],
                    "tolerations": [{"operator": "Exists"}],
                },
            }
            await kube.create("/api/v1/namespaces/default/pods", pod)


async def free_nodes(ctx: Context) -> None:
    async with ctx.kube() as kube:
        for pod in await kube.list_all("/api/v1/namespaces/default/pods", labelSelector=f"{FAULT_LABEL}=hog"):
            await kube.delete(
                f"/api/v1/namespaces/default/pods/{pod['metadata']['name']}", grace_period_seconds=0
            )


async def remove_nodes(ctx: Context) -> None:
    """Every node deregistered (kept for the undo, which registers them again)."""
    async with ctx.kube() as kube:
        nodes = await kube.list_all("/api/v1/nodes")
        ctx.saved["nodes"] = nodes
        for node in nodes:
            await kube.delete(f"/api/v1/nodes/{node['metadata']['name']}")


async def restore_nodes(ctx: Context) -> None:
    async with ctx.kube() as kube:
        for node in ctx.saved.pop("nodes", []):
            meta = {k: v for k, v in node["metadata"].items() if k in ("name", "labels", "annotations")}
            body = {"apiVersion": "v1", "kind": "Node", "metadata": meta, "spec": node.get("spec") or {}}
            await kube.create("/api/v1/nodes", body)
    await all_ready(ctx)


# -- admission ------------------------------------------------------------------------------------
async def webhook_refused(ctx: Context) -> None:
    await ctx.faults.failing_webhook(NAMESPACE)


async def webhook_gone(ctx: Context) -> None:
    await ctx.faults.remove_failing_webhook()


async def quota(ctx: Context) -> None:
    await ctx.faults.exhaust_quota(NAMESPACE)


async def quota_gone(ctx: Context) -> None:
    await ctx.faults.restore_quota(NAMESPACE)


POLICY = "kubeprobe-fault-no-pods"


async def policy(ctx: Context) -> None:
    """A ValidatingAdmissionPolicy (CEL) that denies every pod in the probes' namespace."""
    labels = {FAULT_LABEL: "policy"}
    async with ctx.kube() as kube:
        await policy_gone(ctx)
        await kube.create(
            f"{ADMISSION}/validatingadmissionpolicies",
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingAdmissionPolicy",
                "metadata": {"name": POLICY, "labels": labels},
                "spec": {
                    "failurePolicy": "Fail",
                    "matchConstraints": {
                        "resourceRules": [
                            {
                                "apiGroups": [""],
                                "apiVersions": ["v1"],
                                "operations": ["CREATE"],
                                "resources": ["pods"],
                            }
                        ]
                    },
                    "validations": [{"expression": "false", "message": "pods are frozen by the suite"}],
                },
            },
        )
        await kube.create(
            f"{ADMISSION}/validatingadmissionpolicybindings",
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingAdmissionPolicyBinding",
                "metadata": {"name": POLICY, "labels": labels},
                "spec": {
                    "policyName": POLICY,
                    "validationActions": ["Deny"],
                    "matchResources": {
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}}
                    },
                },
            },
        )


async def policy_gone(ctx: Context) -> None:
    async with ctx.kube() as kube:
        for kind in ("validatingadmissionpolicybindings", "validatingadmissionpolicies"):
            await kube.delete(f"{ADMISSION}/{kind}/{POLICY}")


# -- credentials, certificates -------------------------------------------------------
def center_binding() -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": CENTER_BINDING},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": CENTER_SA, "namespace": "kube-system"}],
    }


async def revoke_center(ctx: Context) -> None:
    """The center's ServiceAccount loses its ClusterRoleBinding: every request it makes is forbidden."""
    async with ctx.kube() as kube:
        await kube.delete(f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{CENTER_BINDING}")


async def grant_center(ctx: Context) -> None:
    async with ctx.kube() as kube:
        try:
            await kube.get(f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{CENTER_BINDING}")
        except NotFoundError:
            await kube.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", center_binding())


async def cert_expiring(ctx: Context) -> None:
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    await ctx.faults.expiring_tls_secret(NAMESPACE, CERT_SECRET, soon)


async def cert_fresh(ctx: Context) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=365)
    await ctx.faults.expiring_tls_secret(NAMESPACE, CERT_SECRET, later)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def scenarios() -> list[Scenario]:
    """Every scenario, in the order they run (related faults apart, so a stale cause shows)."""
    out: list[Scenario] = []

    def add(name: str, cause: str, resident: bool, pair: tuple[Step, Step], what: str) -> None:
        out.append(Scenario(name, cause, resident, pair[0], pair[1], what))

    add("apiserver-paused", "apiserver.unavailable", True, _pause("kube-apiserver"), "SIGSTOP kube-apiserver")
    add("quota-exhausted", "admission.quota_exceeded", True, (quota, quota_gone), "pod quota full")
    add("scheduler-paused", "scheduling.scheduler_down", True, _pause("kube-scheduler"), "SIGSTOP scheduler")
    add("etcd-paused", "etcd.unavailable", True, _pause("etcd"), "SIGSTOP etcd")
    add("webhook-refused", "admission.webhook_failure", True, (webhook_refused, webhook_gone), "webhook down")
    add("nodes-tainted", "scheduling.taints", True, (taint_all, untaint_all), "NoSchedule taint on all")
    add("controller-paused", "controller.stalled", True, _pause("kube-controller-manager"), "SIGSTOP kcm")
    add("apiserver-stopped", "apiserver.unavailable", True, _stop("kube-apiserver"), "API server stopped")
    add("policy-denies", "admission.policy_denied", True, (policy, policy_gone), "CEL policy denies pods")
    add("etcd-nospace", "etcd.quota", True, (etcd_nospace, etcd_space_back), "etcd NOSPACE alarm")
    add("nodes-not-ready", "node.not_ready", True, (all_not_ready, all_ready), "every node NotReady")
    add("scheduler-stopped", "scheduling.scheduler_down", True, _stop("kube-scheduler"), "scheduler stopped")
    add("center-forbidden", "auth.forbidden", False, (revoke_center, grant_center), "center's RBAC revoked")
    add("nodes-full", "scheduling.insufficient_resources", True, (fill_nodes, free_nodes), "CPU taken")
    add("etcd-stopped", "etcd.unavailable", True, _stop("etcd"), "etcd stopped")
    add("node-not-ready", "node.not_ready", False, (one_not_ready, one_ready), "one node NotReady")
    add("certificate-expiring", "certificate.expired", False, (cert_expiring, cert_fresh), "cert ends in 3 d")
    add("nodes-cordoned", "scheduling.taints", True, (cordon_all, uncordon_all), "every node cordoned")
    add("controller-stopped", "controller.stalled", True, _stop("kube-controller-manager"), "kcm stopped")
    add("pool-unlabeled", "scheduling.affinity", True, (unlabel_pool, label_pool), "node selector unmet")
    add("nodes-removed", "scheduling.no_nodes", True, (remove_nodes, restore_nodes), "every node deleted")
    add("nodes-pressure", "node.pressure", True, (pressure_on, pressure_off), "MemoryPressure on all")
    add("quota-again", "admission.quota_exceeded", True, (quota, quota_gone), "pod quota full, again")
    add("apiserver-paused-again", "apiserver.unavailable", True, _pause("kube-apiserver"), "SIGSTOP again")
    add("webhook-again", "admission.webhook_failure", True, (webhook_refused, webhook_gone), "webhook again")
    add("scheduler-paused-again", "scheduling.scheduler_down", True, _pause("kube-scheduler"), "again")
    return out


# -- set-up ---------------------------------------------------------------------------------------
async def center_kubeconfig(sandbox: Sandbox) -> str:
    """A kubeconfig of a ServiceAccount bound to cluster-admin (a token, so faults can revoke it)."""
    async with sandbox.client() as kube:
        sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": CENTER_SA}}
        with contextlib.suppress(ConflictError):
            await kube.create("/api/v1/namespaces/kube-system/serviceaccounts", sa)
        with contextlib.suppress(ConflictError):
            await kube.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", center_binding())
        request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 86400},
        }
        got = await kube.create(f"/api/v1/namespaces/kube-system/serviceaccounts/{CENTER_SA}/token", request)
    ca = (sandbox.folder / "pki" / "ca.crt").read_bytes()
    return (
        "apiVersion: v1\nkind: Config\ncurrent-context: suite\n"
        f"clusters:\n- name: suite\n  cluster:\n    server: {sandbox.server}\n"
        f"    certificate-authority-data: {base64.b64encode(ca).decode()}\n"
        f"users:\n- name: center\n  user:\n    token: {got['status']['token']}\n"
        "contexts:\n- name: suite\n  context: {cluster: suite, user: center}\n"
    )


async def set_up_cluster(ctx: Context) -> None:
    async with ctx.kube() as kube:
        with contextlib.suppress(ConflictError):
            await kube.create(
                "/api/v1/namespaces",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
            )
        await install(kube)
    await label_pool(ctx)
    await cert_fresh(ctx)
    await grant_center(ctx)


# -- a real node ----------------------------------------------------------------------------------
async def runtime_stopped(ctx: Context) -> None:
    await asyncio.to_thread(ctx.real.stop_runtime)


async def runtime_started(ctx: Context) -> None:
    await ctx.real.start_runtime()


def real_scenarios() -> list[Scenario]:
    """Faults only a real node can have; node-probe puts a pod on it every interval."""
    return [
        Scenario(
            "runtime-stopped",
            "runtime.sandbox_failure",
            False,
            runtime_stopped,
            runtime_started,
            "containerd stopped on the real node",
        )
    ]
