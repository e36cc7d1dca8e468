"""Reversible faults injected into a sandbox, for proving that probes notice them.

Every fault has its undo. Component faults act on processes (SIGSTOP/SIGCONT, stop/start); a
crash-looping pod is its status reported as its kubelet would; the others change objects through
the API server, marked with the ``kubeprobe.io/fault`` label so a forgotten one is easy to find.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator
from typing import Any

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import NotFoundError
from kubeprobe.sandbox import pki
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.components import ORDER
from kubeprobe.sandbox.errors import SandboxStateError
from kubeprobe.sandbox.nodes import is_ready

FAULT_LABEL = "kubeprobe.io/fault"
NOT_READY_LABEL = "node-not-ready.stage.kwok.x-k8s.io"
WEBHOOK_NAME = "kubeprobe-fault-failing-webhook"
QUOTA_NAME = "kubeprobe-fault-quota"
BACK_OFF = "back-off 5m0s restarting failed container"


def crash_loop_status(pod: dict[str, Any], restarts: int = 5) -> dict[str, Any]:
    """A pod status whose containers are in CrashLoopBackOff after ``restarts`` restarts."""
    containers = (pod.get("spec") or {}).get("containers") or [{"name": "main", "image": ""}]
    return {
        "containerStatuses": [
            {
                "name": c["name"],
                "image": c.get("image", ""),
                "imageID": "",
                "ready": False,
                "restartCount": restarts,
                "started": False,
                "state": {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": "back-off 5m0s restarting failed container",
                    }
                },
            }
            for c in containers
        ]
    }


def _component(name: str, sandbox: Sandbox | None = None) -> str:
    known = sandbox.order if sandbox is not None else list(ORDER)
    if name not in known:
        raise SandboxStateError(f"unknown component {name!r}; known: {', '.join(known)}")
    return name


class Faults:
    """Fault injection for one sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    # -- components --------------------------------------------------------------------------
    def pause(self, component: str) -> None:
        self.sandbox.pause(_component(component, self.sandbox))

    async def resume(self, component: str) -> None:
        """Undo :meth:`pause`; returns when the whole sandbox is healthy again (components that
        lost their leader lease meanwhile are restarted by the supervisor)."""
        self.sandbox.resume(_component(component, self.sandbox))
        await self.sandbox.wait_ready()

    @contextlib.asynccontextmanager
    async def paused(self, component: str) -> AsyncIterator[None]:
        """``async with faults.paused("kube-scheduler"): ...`` pauses for the block, then resumes."""
        self.pause(component)
        try:
            yield
        finally:
            await self.resume(component)

    def stop(self, component: str) -> None:
        self.sandbox.stop(_component(component, self.sandbox))

    async def start(self, component: str) -> None:
        """Undo :meth:`stop`; returns when the whole sandbox is healthy again."""
        await self.sandbox.start(_component(component, self.sandbox))
        await self.sandbox.wait_ready()

    # -- pods --------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def crash_looping(self, namespace: str, pod: str, every: float = 1.0) -> AsyncIterator[None]:
        """The pod's containers crash-loop for the block, or until the pod is deleted: its status
        says CrashLoopBackOff, as its kubelet would. kwok runs no container and writes its own
        status, so the fault is reported again every ``every`` seconds."""
        path = f"/api/v1/namespaces/{namespace}/pods/{pod}"
        stop = asyncio.Event()
        async with self.sandbox.client() as kube:

            async def report() -> bool:
                try:
                    await kube.patch(f"{path}/status", {"status": crash_loop_status(await kube.get(path))})
                except NotFoundError:
                    return False  # deleted: the fault is over
                return True

            async def keep() -> None:
                while not stop.is_set() and await report():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), every)

            await report()
            task = asyncio.create_task(keep())
            try:
                yield
            finally:
                stop.set()
                await task

    # -- nodes -------------------------------------------------------------------------------
    async def node_not_ready(self, node: str) -> None:
        """kwok's node-not-ready stage turns the node's Ready condition False."""
        async with self.sandbox.client() as kube:
            await kube.patch(f"/api/v1/nodes/{node}", {"metadata": {"labels": {NOT_READY_LABEL: "true"}}})
            await _wait_node(kube, node, ready=False)

    async def node_ready(self, node: str) -> None:
        """Undo :meth:`node_not_ready`: drop the label and report Ready again, as a kubelet would."""
        async with self.sandbox.client() as kube:
            await kube.patch(f"/api/v1/nodes/{node}", {"metadata": {"labels": {NOT_READY_LABEL: None}}})
            now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            current = await kube.get(f"/api/v1/nodes/{node}")
            conditions = []
            for old in current.get("status", {}).get("conditions") or []:
                cond = dict(old)
                if cond["type"] == "Ready":
                    cond.update(
                        status="True",
                        reason="KubeletReady",
                        message="kubelet is posting ready status",
                    )
                elif cond.get("status") == "True":
                    cond.update(status="False", reason="KubeletHasNoProblem", message="recovered")
                cond.update(lastHeartbeatTime=now, lastTransitionTime=now)
                conditions.append(cond)
            await kube.patch(
                f"/api/v1/nodes/{node}/status", {"status": {"conditions": conditions}}, "strategic"
            )
            await _wait_node(kube, node, ready=True)

    async def taint(self, node: str, key: str, value: str = "", effect: str = "NoSchedule") -> None:
        async with self.sandbox.client() as kube:
            obj = await kube.get(f"/api/v1/nodes/{node}")
            taints = [t for t in obj["spec"].get("taints") or [] if t.get("key") != key]
            taints.append({"key": key, "value": value, "effect": effect})
            await kube.patch(f"/api/v1/nodes/{node}", {"spec": {"taints": taints}})

    async def untaint(self, node: str, key: str) -> None:
        async with self.sandbox.client() as kube:
            obj = await kube.get(f"/api/v1/nodes/{node}")
            taints = [t for t in obj["spec"].get("taints") or [] if t.get("key") != key]
            await kube.patch(f"/api/v1/nodes/{node}", {"spec": {"taints": taints or None}})

    async def cordon(self, node: str, on: bool = True) -> None:
        async with self.sandbox.client() as kube:
            await kube.patch(f"/api/v1/nodes/{node}", {"spec": {"unschedulable": True if on else None}})

    # -- admission ---------------------------------------------------------------------------
    async def failing_webhook(self, namespace: str | None = None, timeout_seconds: int = 5) -> None:
        """A validating webhook on pod creation that nobody serves, with failurePolicy Fail.

        Scoped to ``namespace`` when given, else to every namespace but kube-system.
        """
        ca = (self.sandbox.folder / "pki" / "ca.crt").read_bytes()
        if namespace:
            selector: dict[str, Any] = {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
        else:
            selector = {
                "matchExpressions": [
                    {
                        "key": "kubernetes.io/metadata.name",
                        "operator": "NotIn",
                        "values": ["kube-system"],
                    }
                ]
            }
        webhook = {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": WEBHOOK_NAME, "labels": {FAULT_LABEL: "failing-webhook"}},
            "webhooks": [
                {
                    "name": "fault.kubeprobe.io",
                    # Port 1 on loopback: nothing listens, every call is refused.
                    "clientConfig": {
                        "url": "https://127.0.0.1:1/validate",
                        "caBundle": base64.b64encode(ca).decode(),
                    },
                    "rules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE"],
                            "resources": ["pods"],
                        }
                    ],
                    "failurePolicy": "Fail",
                    "sideEffects": "None",
                    "admissionReviewVersions": ["v1"],
                    "timeoutSeconds": timeout_seconds,
                    "namespaceSelector": selector,
                }
            ],
        }
        path = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
        async with self.sandbox.client() as kube:
            await kube.delete(f"{path}/{WEBHOOK_NAME}")
            await kube.create(path, webhook)

    async def remove_failing_webhook(self) -> None:
        path = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
        async with self.sandbox.client() as kube:
            await kube.delete(f"{path}/{WEBHOOK_NAME}")

    async def exhaust_quota(self, namespace: str, timeout: float = 60.0) -> None:
        """A ResourceQuota whose pod limit equals the pods already there: no new pod fits."""
        async with self.sandbox.client() as kube:
            pods = await kube.list_all(f"/api/v1/namespaces/{namespace}/pods")
            quota = {
                "apiVersion": "v1",
                "kind": "ResourceQuota",
                "metadata": {"name": QUOTA_NAME, "labels": {FAULT_LABEL: "quota"}},
                "spec": {"hard": {"pods": str(len(pods))}},
            }
            path = f"/api/v1/namespaces/{namespace}/resourcequotas"
            await kube.delete(f"{path}/{QUOTA_NAME}")
            await kube.create(path, quota)
            # Admission only enforces a quota once the controller has computed its usage.
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                obj = await kube.get(f"{path}/{QUOTA_NAME}")
                if "pods" in (obj.get("status") or {}).get("used", {}):
                    return
                await asyncio.sleep(0.2)
        raise SandboxStateError(f"quota in {namespace!r} got no usage in {timeout:.0f}s")

    async def restore_quota(self, namespace: str) -> None:
        async with self.sandbox.client() as kube:
            await kube.delete(f"/api/v1/namespaces/{namespace}/resourcequotas/{QUOTA_NAME}")

    # -- certificates ------------------------------------------------------------------------
    async def expiring_tls_secret(
        self, namespace: str, name: str, not_after: dt.datetime, hostname: str = "probe.example"
    ) -> bytes:
        """A kubernetes.io/tls Secret whose certificate (signed by the sandbox CA) ends at ``not_after``.

        ``not_after`` in the past makes an expired certificate. Returns the certificate PEM.
        """
        folder = self.sandbox.folder / "pki"
        ca = pki.KeyPair((folder / "ca.crt").read_bytes(), (folder / "ca.key").read_bytes())
        not_before = min(dt.datetime.now(dt.UTC), not_after) - dt.timedelta(days=1)
        pair = pki.issue(
            ca,
            hostname,
            dns_names=(hostname,),
            server=True,
            not_before=not_before,
            not_after=not_after,
        )
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": name, "labels": {FAULT_LABEL: "expiring-certificate"}},
            "data": {
                "tls.crt": base64.b64encode(pair.cert_pem).decode(),
                "tls.key": base64.b64encode(pair.key_pem).decode(),
                "ca.crt": base64.b64encode(ca.cert_pem).decode(),
            },
        }
        async with self.sandbox.client() as kube:
            await kube.delete(f"/api/v1/namespaces/{namespace}/secrets/{name}")
            await kube.create(f"/api/v1/namespaces/{namespace}/secrets", secret)
        return pair.cert_pem


async def _wait_node(kube: KubeClient, node: str, *, ready: bool, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if is_ready(await kube.get(f"/api/v1/nodes/{node}")) == ready:
                return
        except NotFoundError as exc:
            raise SandboxStateError(f"node {node!r} does not exist") from exc
        await asyncio.sleep(0.25)
    raise SandboxStateError(
        f"node {node!r} did not become {'Ready' if ready else 'NotReady'} in {timeout:.0f}s"
    )
