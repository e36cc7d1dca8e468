"""Delete a stuck or crash-looping pod that a controller owns, so the controller replaces it.

Only controller-owned pods (ReplicaSet, StatefulSet, DaemonSet, Job): a bare pod would be lost.
The delete names the pod's uid as a precondition, so a StatefulSet's replacement with the same
name is never deleted by mistake. Verified when the old pod is gone and its owner is ready again.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from kubeprobe.kube.errors import NotFoundError
from kubeprobe.kube.waiting import WaitTimeout, wait_for
from kubeprobe.remedy.actions.base import ACTIONS, ActionContext, Obj, Plan, RemedyAction, controller_of
from kubeprobe.remedy.defender.requests import RiskTier

OWNERS = {
    "ReplicaSet": "replicasets",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
    "Job": "jobs",
}
CRASH_REASONS = {
    "CrashLoopBackOff",
    "RunContainerError",
    "CreateContainerError",
    "CreateContainerConfigError",
}


def pod_trouble(pod: Obj, *, min_restarts: int, stuck_seconds: float, now: float) -> str:
    """Why a pod needs a restart ("" if it does not): crash-looping, or scheduled and stuck."""
    status = pod.get("status") or {}
    for cs in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]:
        reason = ((cs.get("state") or {}).get("waiting") or {}).get("reason", "")
        if reason in CRASH_REASONS:
            return f"container {cs.get('name')} is in {reason} ({cs.get('restartCount', 0)} restarts)"
        if int(cs.get("restartCount") or 0) >= min_restarts:
            return f"container {cs.get('name')} restarted {cs.get('restartCount')} times"
    if status.get("phase") == "Pending" and (pod.get("spec") or {}).get("nodeName"):
        started = _age(str((pod.get("metadata") or {}).get("creationTimestamp") or ""), now)
        if started >= stuck_seconds:
            return f"scheduled but not running after {started:.0f}s"
    return ""


def _age(stamp: str, now: float) -> float:
    try:
        at = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
    return now - at


@ACTIONS.register
class PodDeleteAction(RemedyAction):
    """Params: ``min_restarts`` (3), ``stuck_seconds`` (300), ``require_trouble`` (True)."""

    name = "pod-delete"
    tier = RiskTier.REVERSIBLE
    kind = "Pod"
    description = "delete a stuck or crash-looping pod owned by a controller; the controller replaces it"

    @property
    def path(self) -> str:
        return f"/api/v1/namespaces/{self.target.namespace}/pods/{self.target.name}"

    async def _pod(self, ctx: ActionContext) -> Obj | None:
        try:
            return await ctx.kube.get(self.path)
        except NotFoundError:
            return None

    async def preconditions(self, ctx: ActionContext) -> list[str]:
        pod = await self._pod(ctx)
        if pod is None:
            return [f"pod {self.target.namespace}/{self.target.name} does not exist"]
        problems = []
        owner = controller_of(pod)
        if owner is None or owner.get("kind") not in OWNERS:
            problems.append(
                "the pod has no controller that would replace it (ReplicaSet, StatefulSet, DaemonSet, Job)"
            )
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            problems.append("the pod is already being deleted")
        trouble = pod_trouble(
            pod,
            min_restarts=int(self.params.get("min_restarts", 3)),
            stuck_seconds=float(self.params.get("stuck_seconds", 300)),
            now=time.time(),
        )
        if not trouble and self.params.get("require_trouble", True):
            problems.append("the pod is neither crash-looping nor stuck")
        return problems

    async def plan(self, ctx: ActionContext) -> Plan:
        pod = await self._pod(ctx) or {}
        meta: dict[str, Any] = pod.get("metadata") or {}
        owner = controller_of(pod) or {}
        trouble = pod_trouble(
            pod,
            min_restarts=int(self.params.get("min_restarts", 3)),
            stuck_seconds=float(self.params.get("stuck_seconds", 300)),
            now=time.time(),
        )
        return Plan(
            self.name,
            self.tier,
            self.target,
            (
                f"delete pod {self.target.namespace}/{self.target.name} (uid {meta.get('uid')}): "
                f"{trouble or 'as asked'}",
                f"{owner.get('kind', '?')} {owner.get('name', '?')} creates a replacement",
            ),
            undo="none needed: the controller restores the replica",
        )

    async def execute(self, ctx: ActionContext) -> None:
        pod = await self._pod(ctx)
        if pod is None:
            return
        self.params["_uid"] = (pod.get("metadata") or {}).get("uid")
        self.params["_owner"] = controller_of(pod)
        await ctx.fence()
        await ctx.kube.request(
            "DELETE",
            self.path,
            body={"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": self.params["_uid"]}},
        )

    async def verify(self, ctx: ActionContext) -> bool:
        uid, owner = self.params.get("_uid"), self.params.get("_owner") or {}

        async def look() -> bool:
            pod = await self._pod(ctx)
            if pod is not None and (pod.get("metadata") or {}).get("uid") == uid:
                return False
            return await owner_ready(ctx, self.target.namespace, owner)

        try:
            await wait_for(look, bool, timeout=ctx.timeout, interval=ctx.interval, what="replacement ready")
        except WaitTimeout:
            return False
        return True


async def owner_ready(ctx: ActionContext, namespace: str, owner: Obj) -> bool:
    plural = OWNERS.get(str(owner.get("kind")))
    if plural is None or owner.get("kind") == "Job":
        return True
    api = "batch/v1" if plural == "jobs" else "apps/v1"
    try:
        obj = await ctx.kube.get(f"/apis/{api}/namespaces/{namespace}/{plural}/{owner.get('name')}")
    except NotFoundError:
        return False
    status = obj.get("status") or {}
    if plural == "daemonsets":
        return bool(status.get("numberReady", 0) >= status.get("desiredNumberScheduled", 0))
    want = (obj.get("spec") or {}).get("replicas", 1)
    return bool(status.get("readyReplicas", 0) >= want)
