"""The pod runner: a run as a pod in the target cluster, watched until it ends, then cleaned up.

In ``kubeprobe-system`` (created with its RBAC if missing) it makes the run's anchor ConfigMap and
a pod owned by it, with the contract's environment, run-id labels and a ServiceAccount per
template that holds only the permissions the template declares (its ``rbac_rules``: a ClusterRole
and ClusterRoleBinding named ``kubeprobe:case:<template>``). It watches the pod:
unschedulable or an image that cannot be pulled → ``error`` with the reason; the deadline passed →
``timed_out``; the pod ended → ``exited`` with its exit code and logs. Deleting the anchor lets the
garbage collector remove the pod; :func:`sweep` removes what a crash left behind. When the center
stops while a run's pod runs, the pod is left alone and :meth:`PodRunner.adopt` lets the next
center follow it to its end.

Where run pods go is the cluster's to say: the ConfigMap ``kubeprobe-system/kubeprobe-runner``
(key ``pod-overrides``, a JSON object of pod spec fields such as ``nodeSelector``,
``tolerations``, ``priorityClassName``) is merged into every run pod's spec; the runner's own
``pod_overrides`` win over it. A sandbox with real nodes writes it so run pods land where
containers really run.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import re
import time
from typing import Any

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.config import parse_kubeconfig
from kubeprobe.kube.errors import (
    ConflictError,
    KubeConfigError,
    KubeConnectionError,
    KubeError,
    NotFoundError,
)
from kubeprobe.kube.podsecurity import restricted
from kubeprobe.runners.base import MAX_LOG_BYTES, RunEnd, RunnerError, RunRequest

log = logging.getLogger(__name__)
NAMESPACE = "kubeprobe-system"
RUN_LABEL = "kubeprobe.io/run-id"
CASE_LABEL = "kubeprobe.io/case"
MANAGED = {"app.kubernetes.io/managed-by": "kubeprobe"}
DEADLINE_ANNOTATION = "kubeprobe.io/deadline"
RUNNER_CONFIGMAP = "kubeprobe-runner"
#: Pod spec fields a cluster's runner ConfigMap may set (nothing that changes what runs or as whom).
PLACEMENT_FIELDS = ("nodeSelector", "tolerations", "affinity", "priorityClassName", "runtimeClassName")
PULL_FAILURES = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
CONFIG_FAILURES = {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}


def dns_name(text: str, limit: int = 50) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:limit].strip("-") or "case"


def _short(run_id: str) -> str:
    return re.sub(r"[^a-z0-9]", "", run_id.lower())[:12] or "run"


def pod_name(run_id: str) -> str:
    """The name of a run's pod (and of its anchor ConfigMap) in ``kubeprobe-system``."""
    return f"kp-run-{_short(run_id)}"


class PodRunner:
    """Runs cases as pods. ``pod_overrides`` (e.g. nodeSelector, tolerations) go into every pod spec."""

    def __init__(
        self,
        *,
        poll_seconds: float = 0.5,
        unschedulable_grace_seconds: float = 10.0,
        pod_overrides: dict[str, Any] | None = None,
        rbac_cache_seconds: float = 300.0,
    ) -> None:
        self.poll_seconds = poll_seconds
        self.unschedulable_grace = unschedulable_grace_seconds
        self.pod_overrides = pod_overrides or {}
        self.rbac_cache_seconds = rbac_cache_seconds
        self._rbac_cache: dict[tuple[str, str], tuple[str, float]] = {}
        self._placement_cache: dict[str, tuple[dict[str, Any], float]] = {}

    async def run(self, request: RunRequest) -> RunEnd:
        if not request.case.image:
            raise RunnerError(f"case {request.case.name} has no container image; the pod runner needs one")
        try:
            conn = parse_kubeconfig(request.kubeconfig, source=f"cluster {request.cluster} kubeconfig")
        except KubeConfigError as exc:
            return RunEnd("error", str(exc))
        async with KubeClient(conn) as kube:
            try:
                pod_name = await self._create(kube, request)
            except KubeConnectionError as exc:
                return RunEnd("error", f"cluster {request.cluster} unreachable: {exc}")
            except KubeError as exc:
                self._rbac_cache.pop((conn.server, dns_name(request.case.template)), None)  # set up again
                await self._cleanup(kube, request)
                return RunEnd("error", f"cannot create the run's pod in {request.cluster}: {exc}")
            return await self._follow(kube, request, pod_name)

    async def has_pod(self, request: RunRequest) -> bool:
        """Whether the run's pod exists; raises :class:`RunnerError` when the cluster cannot say."""
        try:
            conn = parse_kubeconfig(request.kubeconfig, source=f"cluster {request.cluster} kubeconfig")
        except KubeConfigError as exc:
            raise RunnerError(str(exc)) from exc
        name = pod_name(request.run_id)
        async with KubeClient(conn, timeout=10) as kube:
            try:
                await kube.get(f"/api/v1/namespaces/{NAMESPACE}/pods/{name}")
            except NotFoundError:
                await self._cleanup(kube, request)  # its anchor, if that is left
                return False
            except KubeError as exc:
                raise RunnerError(f"cluster {request.cluster}: cannot look for pod {name}: {exc}") from exc
        return True

    async def adopt(self, request: RunRequest) -> RunEnd | None:
        """Follow the pod of a run that an earlier center started; None when it has no pod any more."""
        try:
            conn = parse_kubeconfig(request.kubeconfig, source=f"cluster {request.cluster} kubeconfig")
        except KubeConfigError as exc:
            raise RunnerError(str(exc)) from exc
        async with KubeClient(conn) as kube:
            name = pod_name(request.run_id)
            try:
                await kube.get(f"/api/v1/namespaces/{NAMESPACE}/pods/{name}")
            except NotFoundError:
                await self._cleanup(kube, request)
                return None
            except KubeConnectionError:
                pass  # _watch retries until the deadline
            return await self._follow(kube, request, name)

    async def _follow(self, kube: KubeClient, request: RunRequest, name: str) -> RunEnd:
        """Watch the pod to its end, collect its output and clean up. When the center stops (this
        task is cancelled) the pod is left running for the next center to adopt."""
        try:
            end = await self._watch(kube, request, name)
            end = await self._with_output(kube, name, end)
        except asyncio.CancelledError:
            raise
        except BaseException:
            await self._cleanup(kube, request)
            raise
        await self._cleanup(kube, request)
        return end

    # -- setup ---------------------------------------------------------------------------------
    async def _create(self, kube: KubeClient, request: RunRequest) -> str:
        account = await self._ensure_rbac(kube, request)
        labels = {RUN_LABEL: request.run_id, CASE_LABEL: dns_name(request.case.name, 63), **MANAGED}
        anchor = await kube.create(
            f"/api/v1/namespaces/{NAMESPACE}/configmaps",
            {
                "metadata": {
                    "name": pod_name(request.run_id),
                    "labels": labels,
                    "annotations": {DEADLINE_ANNOTATION: request.deadline.astimezone(dt.UTC).isoformat()},
                },
                "data": {"run-id": request.run_id, "case": request.case.name, "cluster": request.cluster},
            },
        )
        owner = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": anchor["metadata"]["name"],
            "uid": anchor["metadata"]["uid"],
            "blockOwnerDeletion": False,
        }
        remaining = int((request.deadline - dt.datetime.now(dt.UTC)).total_seconds())
        env = [{"name": k, "value": v} for k, v in sorted(request.contract_env(NAMESPACE).items())]
        container: dict[str, Any] = {"name": "case", "image": request.case.image, "env": env}
        if request.case.command:
            container["command"] = list(request.case.command)
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": pod_name(request.run_id), "labels": labels, "ownerReferences": [owner]},
            "spec": restricted(
                {
                    "serviceAccountName": account,
                    "restartPolicy": "Never",
                    "activeDeadlineSeconds": max(remaining, 1),
                    "terminationGracePeriodSeconds": 5,
                    "containers": [container],
                    **await self._placement(kube),
                    **self.pod_overrides,
                }
            ),
        }
        created = await kube.create(f"/api/v1/namespaces/{NAMESPACE}/pods", pod)
        name: str = created["metadata"]["name"]
        return name

    async def _placement(self, kube: KubeClient) -> dict[str, Any]:
        """The cluster's placement for run pods (its ``kubeprobe-runner`` ConfigMap), cached like RBAC."""
        now = time.monotonic()
        cached = self._placement_cache.get(kube.conn.server)
        if cached and now - cached[1] < self.rbac_cache_seconds:
            return cached[0]
        placement: dict[str, Any] = {}
        try:
            cm = await kube.get(f"/api/v1/namespaces/{NAMESPACE}/configmaps/{RUNNER_CONFIGMAP}")
            raw = json.loads((cm.get("data") or {}).get("pod-overrides") or "{}")
            if isinstance(raw, dict):
                placement = {k: v for k, v in raw.items() if k in PLACEMENT_FIELDS}
        except NotFoundError:
            pass
        except (KubeError, ValueError) as exc:
            log.warning("cannot read %s/%s: %s; run pods use no placement", NAMESPACE, RUNNER_CONFIGMAP, exc)
        self._placement_cache[kube.conn.server] = (placement, now)
        return placement

    async def _ensure_rbac(self, kube: KubeClient, request: RunRequest) -> str:
        """A ServiceAccount per template bound (by a ClusterRole and its binding, both named
        ``kubeprobe:case:<template>``) to exactly the rules the template declares; no rules, no
        binding. What was set up is remembered per cluster and template for a few minutes, so a
        busy center does not rewrite the same RBAC for every run."""
        template = dns_name(request.case.template)
        account = f"kp-case-{template}"
        rules = [dict(r) for r in request.case.rbac_rules]
        key = (kube.conn.server, template)
        fingerprint = json.dumps(rules, sort_keys=True)
        now = time.monotonic()
        cached = self._rbac_cache.get(key)
        if cached and cached[0] == fingerprint and now - cached[1] < self.rbac_cache_seconds:
            return account
        await _create_or_keep(
            kube, "/api/v1/namespaces", {"metadata": {"name": NAMESPACE, "labels": MANAGED}}
        )
        await _create_or_keep(
            kube,
            f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts",
            {"metadata": {"name": account, "labels": MANAGED}},
        )
        role = f"kubeprobe:case:{template}"
        rbac = "/apis/rbac.authorization.k8s.io/v1"
        if rules:
            await _create_or_patch_rules(kube, f"{rbac}/clusterroles", role, rules)
            await _create_or_keep(
                kube,
                f"{rbac}/clusterrolebindings",
                {
                    "metadata": {"name": role, "labels": MANAGED},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                    "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}],
                },
            )
        else:  # the template declares nothing (any more): the account may do nothing
            for path in (f"{rbac}/clusterrolebindings/{role}", f"{rbac}/clusterroles/{role}"):
                with contextlib.suppress(NotFoundError):
                    await kube.delete(path)
        self._rbac_cache[key] = (fingerprint, now)
        return account

    # -- watching ------------------------------------------------------------------------------
    async def _watch(self, kube: KubeClient, request: RunRequest, name: str) -> RunEnd:
        path = f"/api/v1/namespaces/{NAMESPACE}/pods/{name}"
        unschedulable_since: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            if dt.datetime.now(dt.UTC) >= request.deadline:
                return RunEnd("timed_out", f"pod {name} did not finish before the deadline; deleted")
            try:
                pod = await kube.get(path)
            except KubeConnectionError:
                await asyncio.sleep(self.poll_seconds)
                continue
            except NotFoundError:
                return RunEnd("error", f"pod {name} was deleted before it ended")
            status = pod.get("status") or {}
            phase = status.get("phase")
            if phase in ("Succeeded", "Failed"):
                code = _exit_code(status)
                return RunEnd("exited", f"pod {name} {phase.lower()} (exit code {code})", code)
            for cs in status.get("containerStatuses") or []:
                waiting = (cs.get("state") or {}).get("waiting") or {}
                reason = waiting.get("reason")
                if reason in PULL_FAILURES:
                    return RunEnd(
                        "error",
                        f"image {request.case.image} cannot be pulled: {reason}: "
                        f"{waiting.get('message', '')}".rstrip(": "),
                    )
                if reason in CONFIG_FAILURES:
                    return RunEnd(
                        "error",
                        f"container of pod {name} cannot start: {reason}: "
                        f"{waiting.get('message', '')}".rstrip(": "),
                    )
            sched = next((c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), None)
            if sched and sched.get("status") == "False" and sched.get("reason") == "Unschedulable":
                unschedulable_since = unschedulable_since or loop.time()
                if loop.time() - unschedulable_since >= self.unschedulable_grace:
                    return RunEnd("error", f"pod {name} cannot be scheduled: {sched.get('message')}")
            else:
                unschedulable_since = None
            await asyncio.sleep(self.poll_seconds)

    async def _with_output(self, kube: KubeClient, name: str, end: RunEnd) -> RunEnd:
        """Attach the pod's logs (previous container too, when there is one) and its events."""
        logs = ""
        with contextlib.suppress(KubeError):
            text = await kube.request("GET", f"/api/v1/namespaces/{NAMESPACE}/pods/{name}/log")
            logs = str(text)[-MAX_LOG_BYTES:]
        events: list[str] = []
        with contextlib.suppress(KubeError):
            items = await kube.list_all(
                f"/api/v1/namespaces/{NAMESPACE}/events", fieldSelector=f"involvedObject.name={name}"
            )
            events = [f"{e.get('type')} {e.get('reason')}: {e.get('message')}" for e in items]
        return RunEnd(end.state, end.reason, end.exit_code, logs, events)

    async def _cleanup(self, kube: KubeClient, request: RunRequest) -> None:
        name = pod_name(request.run_id)
        with contextlib.suppress(KubeError):
            await kube.delete(f"/api/v1/namespaces/{NAMESPACE}/pods/{name}", grace_period_seconds=0)
        with contextlib.suppress(KubeError):
            await kube.delete(f"/api/v1/namespaces/{NAMESPACE}/configmaps/{name}")


def _exit_code(status: dict[str, Any]) -> int | None:
    for cs in status.get("containerStatuses") or []:
        terminated = (cs.get("state") or {}).get("terminated")
        if terminated is not None:
            return int(terminated.get("exitCode", 0))
    return None


async def _create_or_keep(kube: KubeClient, path: str, obj: dict[str, Any]) -> None:
    """Create ``obj`` unless it exists. Looks first: an identity that may not create it (the Helm
    chart's ``kubeprobe-center`` may not create namespaces) gets on when it exists already."""
    try:
        await kube.get(f"{path}/{obj['metadata']['name']}")
        return
    except NotFoundError:
        pass
    with contextlib.suppress(ConflictError):
        await kube.create(path, obj)


async def _create_or_patch_rules(kube: KubeClient, path: str, name: str, rules: list[dict[str, Any]]) -> None:
    """A ClusterRole holding exactly ``rules``. An existing one is patched by name, so an identity
    allowed to escalate only named roles (the chart pre-creates them empty) can set its rules."""
    try:
        current = await kube.get(f"{path}/{name}")
    except NotFoundError:
        try:
            await kube.create(path, {"metadata": {"name": name, "labels": MANAGED}, "rules": rules})
            return
        except ConflictError:
            current = {}
    if current.get("rules") != rules:
        await kube.patch(f"{path}/{name}", {"rules": rules})


async def sweep(kube: KubeClient, *, now: dt.datetime | None = None, grace_seconds: float = 60) -> list[str]:
    """Delete run anchors (and so their pods) whose deadline passed ``grace_seconds`` ago, and
    run pods whose anchor is gone; return the run ids cleaned."""
    now = now or dt.datetime.now(dt.UTC)
    cleaned: list[str] = []
    anchors = await kube.list_all(f"/api/v1/namespaces/{NAMESPACE}/configmaps", labelSelector=RUN_LABEL)
    alive = set()
    for cm in anchors:
        meta = cm["metadata"]
        deadline_text = (meta.get("annotations") or {}).get(DEADLINE_ANNOTATION)
        try:
            deadline = dt.datetime.fromisoformat(deadline_text) if deadline_text else None
        except ValueError:
            deadline = None
        if deadline is None or (now - deadline).total_seconds() > grace_seconds:
            await kube.delete(f"/api/v1/namespaces/{NAMESPACE}/configmaps/{meta['name']}")
            cleaned.append(meta["labels"].get(RUN_LABEL, meta["name"]))
        else:
            alive.add(meta["name"])
    pods = await kube.list_all(f"/api/v1/namespaces/{NAMESPACE}/pods", labelSelector=RUN_LABEL)
    for pod in pods:
        owners = {o.get("name") for o in pod["metadata"].get("ownerReferences") or []}
        created = dt.datetime.fromisoformat(pod["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
        # A pod younger than the grace may belong to a run whose anchor appeared after our listing.
        if not owners & alive and (now - created).total_seconds() > grace_seconds:
            await kube.delete(
                f"/api/v1/namespaces/{NAMESPACE}/pods/{pod['metadata']['name']}", grace_period_seconds=0
            )
            run_id = pod["metadata"]["labels"].get(RUN_LABEL, "")
            if run_id not in cleaned:
                cleaned.append(run_id)
    if cleaned:
        log.info("sweeper removed leftovers of %d runs", len(cleaned))
    return cleaned
