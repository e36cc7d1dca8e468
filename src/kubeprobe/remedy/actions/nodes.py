"""Take a node out of service and put it back: cordon + drain (through the Eviction API, so
PodDisruptionBudgets hold), and uncordon once the node is healthy again.

Drain evicts every pod on the node except DaemonSet pods, mirror (static) pods and pods already
finished or terminating; a pod that no controller owns is a precondition failure (evicting it
would lose it). An eviction refused with 429 (a PDB allows no disruption now) is tried again
until the deadline; the plan names the PDBs that would block now. The cordon is marked with the
remediation's id and fencing token, and uncordon only undoes a cordon KubeProbe made.
"""

from __future__ import annotations

from typing import Any

from kubeprobe.kube.errors import KubeClientError, NotFoundError, ThrottledError
from kubeprobe.kube.waiting import WaitTimeout, wait_for
from kubeprobe.remedy.actions.base import (
    ACTIONS,
    REMEDY_ANNOTATION,
    ActionContext,
    Obj,
    Plan,
    RemedyAction,
    controller_of,
    fenced_patch,
)
from kubeprobe.remedy.defender.requests import RiskTier
from kubeprobe.remedy.errors import ActionError
from kubeprobe.remedy.health import node_healthy

MIRROR = "kubernetes.io/config.mirror"


def evictable(pod: Obj) -> bool:
    meta = pod.get("metadata") or {}
    if MIRROR in (meta.get("annotations") or {}) or meta.get("deletionTimestamp"):
        return False
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    owner = controller_of(pod)
    return not (owner is not None and owner.get("kind") == "DaemonSet")


def selector_matches(selector: Obj | None, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels and matchExpressions) against labels; None matches nothing."""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        ok = {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels.get(key) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }.get(str(op), False)
        if not ok:
            return False
    return True


class NodeAction(RemedyAction):
    kind = "Node"

    @property
    def path(self) -> str:
        return f"/api/v1/nodes/{self.target.name}"

    async def node(self, ctx: ActionContext) -> Obj | None:
        try:
            return await ctx.kube.get(self.path)
        except NotFoundError:
            return None

    async def pods(self, ctx: ActionContext) -> list[Obj]:
        return await ctx.kube.list_all("/api/v1/pods", fieldSelector=f"spec.nodeName={self.target.name}")

    async def set_cordon(self, ctx: ActionContext, on: bool) -> None:
        await ctx.fence()
        annotations: dict[str, Any] = (
            {REMEDY_ANNOTATION: ctx.remediation or "kubeprobe"} if on else {REMEDY_ANNOTATION: None}
        )
        await fenced_patch(
            ctx.kube,
            self.path,
            {"spec": {"unschedulable": True if on else None}, "metadata": {"annotations": annotations}},
            ctx.token,
            release=not on,
        )


@ACTIONS.register
class CordonDrainAction(NodeAction):
    """Params: none. Undo: uncordon."""

    name = "node-drain"
    tier = RiskTier.DISRUPTIVE
    description = "cordon a node and evict its pods through the Eviction API (PodDisruptionBudgets hold)"

    async def preconditions(self, ctx: ActionContext) -> list[str]:
        node = await self.node(ctx)
        if node is None:
            return [f"node {self.target.name} does not exist"]
        bare = [p for p in await self.pods(ctx) if evictable(p) and controller_of(p) is None]
        return [
            f"pod {p['metadata'].get('namespace')}/{p['metadata']['name']} has no controller: "
            "evicting it would lose it"
            for p in bare
        ]

    async def plan(self, ctx: ActionContext) -> Plan:
        pods = [p for p in await self.pods(ctx) if evictable(p)]
        pdbs = await ctx.kube.list_all("/apis/policy/v1/poddisruptionbudgets")
        warnings = []
        for pdb in pdbs:
            meta = pdb.get("metadata") or {}
            hit = [
                p
                for p in pods
                if (
                    p["metadata"].get("namespace") == meta.get("namespace")
                    and selector_matches(
                        (pdb.get("spec") or {}).get("selector"), p["metadata"].get("labels") or {}
                    )
                )
            ]
            if hit and int((pdb.get("status") or {}).get("disruptionsAllowed", 0)) < len(hit):
                warnings.append(
                    f"PodDisruptionBudget {meta.get('namespace')}/{meta.get('name')} allows "
                    f"{(pdb.get('status') or {}).get('disruptionsAllowed', 0)} disruption(s) now for "
                    f"{len(hit)} pod(s): eviction waits for it"
                )
        changes = [f"cordon node {self.target.name} (spec.unschedulable=true)"]
        changes += [f"evict pod {p['metadata'].get('namespace')}/{p['metadata']['name']}" for p in pods]
        return Plan(
            self.name,
            self.tier,
            self.target,
            tuple(changes),
            undo=f"uncordon node {self.target.name}",
            warnings=tuple(warnings),
        )

    async def execute(self, ctx: ActionContext) -> None:
        await self.set_cordon(ctx, True)

        async def evict_round() -> int:
            left = [p for p in await self.pods(ctx) if evictable(p)]
            for pod in left:
                await ctx.fence()
                await self._evict(ctx, pod)
            return len(left)

        try:
            await wait_for(
                evict_round,
                lambda n: n == 0,
                timeout=ctx.timeout,
                interval=ctx.interval,
                what=f"drain of {self.target.name}",
            )
        except WaitTimeout as exc:
            raise ActionError(f"node {self.target.name}: {exc.last} pod(s) still not evicted") from exc

    async def _evict(self, ctx: ActionContext, pod: Obj) -> None:
        meta = pod["metadata"]
        body = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": meta["name"], "namespace": meta.get("namespace")},
            "deleteOptions": {"preconditions": {"uid": meta.get("uid")}},
        }
        try:
            await ctx.kube.create(
                f"/api/v1/namespaces/{meta.get('namespace')}/pods/{meta['name']}/eviction", body
            )
        except (ThrottledError, NotFoundError):
            return  # a PDB says not now (tried again next round), or it is gone already
        except KubeClientError as exc:
            if exc.status == 403 and "being terminated" in exc.message:
                return  # its namespace is being deleted: the pod goes with it (tried again next round)
            if exc.status != 409:  # a changed uid: the pod was replaced meanwhile
                raise ActionError(f"evicting {meta.get('namespace')}/{meta['name']}: {exc}") from exc

    async def verify(self, ctx: ActionContext) -> bool:
        node = await self.node(ctx)
        if node is None or not (node.get("spec") or {}).get("unschedulable"):
            return False
        return not any(evictable(p) for p in await self.pods(ctx))

    async def undo(self, ctx: ActionContext) -> None:
        await self.set_cordon(ctx, False)


@ACTIONS.register
class UncordonAction(NodeAction):
    """Put a node KubeProbe cordoned back into service once it is Ready again."""

    name = "node-uncordon"
    tier = RiskTier.REVERSIBLE
    description = "uncordon a node that KubeProbe cordoned, once it is healthy again"

    async def preconditions(self, ctx: ActionContext) -> list[str]:
        node = await self.node(ctx)
        if node is None:
            return [f"node {self.target.name} does not exist"]
        problems = []
        if not node_healthy(node):
            problems.append(f"node {self.target.name} is not Ready yet")
        if REMEDY_ANNOTATION not in ((node.get("metadata") or {}).get("annotations") or {}):
            problems.append(
                f"node {self.target.name} was not cordoned by KubeProbe: leaving it to whoever did"
            )
        return problems

    async def plan(self, ctx: ActionContext) -> Plan:
        return Plan(
            self.name,
            self.tier,
            self.target,
            (f"uncordon node {self.target.name}",),
            undo=f"cordon node {self.target.name}",
        )

    async def execute(self, ctx: ActionContext) -> None:
        await self.set_cordon(ctx, False)

    async def verify(self, ctx: ActionContext) -> bool:
        node = await self.node(ctx)
        return node is not None and not (node.get("spec") or {}).get("unschedulable") and node_healthy(node)

    async def undo(self, ctx: ActionContext) -> None:
        await self.set_cordon(ctx, True)
