"""Roll a Deployment back to its previous revision, as ``kubectl rollout undo`` does.

The revisions are the Deployment's ReplicaSets and their ``deployment.kubernetes.io/revision``
annotation; rolling back writes the previous one's pod template (without its
``pod-template-hash`` label) into the Deployment, and the Deployment controller rolls it out as a
new revision. Undo is a rollback again: the broken template is then the previous revision.
Verified when the rollout is complete and available.
"""

from __future__ import annotations

import copy

from kubeprobe.kube.errors import NotFoundError
from kubeprobe.kube.waiting import WaitTimeout, wait_for
from kubeprobe.remedy.actions.base import ACTIONS, ActionContext, Obj, Plan, RemedyAction, fenced_patch
from kubeprobe.remedy.defender.requests import RiskTier
from kubeprobe.remedy.errors import PreconditionError

REVISION = "deployment.kubernetes.io/revision"
HASH = "pod-template-hash"


def rollout_complete(dep: Obj) -> bool:
    spec, status = dep.get("spec") or {}, dep.get("status") or {}
    want = spec.get("replicas", 1)
    return bool(
        status.get("observedGeneration", 0) >= (dep.get("metadata") or {}).get("generation", 0)
        and status.get("updatedReplicas", 0) == want
        and status.get("availableReplicas", 0) == want
        and status.get("replicas", 0) == want
    )


def _images(template: Obj) -> str:
    return ", ".join(c.get("image", "?") for c in (template.get("spec") or {}).get("containers") or [])


@ACTIONS.register
class DeploymentRollbackAction(RemedyAction):
    name = "deployment-rollback"
    tier = RiskTier.DISRUPTIVE
    kind = "Deployment"
    description = "roll a Deployment back to its previous revision when its own rollout broke"

    @property
    def path(self) -> str:
        return f"/apis/apps/v1/namespaces/{self.target.namespace}/deployments/{self.target.name}"

    async def revisions(self, ctx: ActionContext) -> tuple[Obj | None, list[tuple[int, Obj]]]:
        """The Deployment and its ReplicaSets by revision, newest first."""
        try:
            dep = await ctx.kube.get(self.path)
        except NotFoundError:
            return None, []
        uid = dep["metadata"].get("uid")
        sets = await ctx.kube.list_all(f"/apis/apps/v1/namespaces/{self.target.namespace}/replicasets")
        mine = [
            rs for rs in sets if any(r.get("uid") == uid for r in rs["metadata"].get("ownerReferences") or [])
        ]
        numbered = [(int((rs["metadata"].get("annotations") or {}).get(REVISION, 0)), rs) for rs in mine]
        return dep, sorted(numbered, key=lambda pair: pair[0], reverse=True)

    async def preconditions(self, ctx: ActionContext) -> list[str]:
        dep, revs = await self.revisions(ctx)
        if dep is None:
            return [f"deployment {self.target.namespace}/{self.target.name} does not exist"]
        if len(revs) < 2:
            return [f"deployment {self.target.namespace}/{self.target.name} has no previous revision"]
        if self.params.get("require_broken", True) and rollout_complete(dep):
            return ["the current rollout is complete and available: nothing to roll back from"]
        return []

    async def plan(self, ctx: ActionContext) -> Plan:
        dep, revs = await self.revisions(ctx)
        if dep is None or len(revs) < 2:
            return Plan(self.name, self.tier, self.target, (), warnings=("no previous revision",))
        (cur, cur_rs), (prev, prev_rs) = revs[0], revs[1]
        return Plan(
            self.name,
            self.tier,
            self.target,
            (
                f"set deployment {self.target.namespace}/{self.target.name}'s pod template "
                f"from revision {cur} "
                f"({_images(cur_rs['spec']['template'])}) back to revision {prev} "
                f"({_images(prev_rs['spec']['template'])})",
            ),
            undo=f"roll back again (to the template of revision {cur})",
        )

    async def execute(self, ctx: ActionContext) -> None:
        dep, revs = await self.revisions(ctx)
        if dep is None or len(revs) < 2:
            raise PreconditionError(f"deployment {self.target.name} has no previous revision to roll back to")
        template = copy.deepcopy(revs[1][1]["spec"]["template"])
        labels = (template.get("metadata") or {}).get("labels") or {}
        labels.pop(HASH, None)
        await ctx.fence()
        # A merge patch cannot drop list items or keys; write the whole template (JSON merge of
        # the template object replaces lists, and keys absent from it are set to null).
        current = dep["spec"]["template"]
        patch_template = _replacing(current, template)
        await fenced_patch(ctx.kube, self.path, {"spec": {"template": patch_template}}, ctx.token)

    async def verify(self, ctx: ActionContext) -> bool:
        async def look() -> Obj | None:
            try:
                return await ctx.kube.get(self.path)
            except NotFoundError:
                return None

        try:
            await wait_for(
                look,
                lambda d: d is not None and rollout_complete(d),
                timeout=ctx.timeout,
                interval=ctx.interval,
                what="rollout after rollback",
            )
        except WaitTimeout:
            return False
        return True

    async def undo(self, ctx: ActionContext) -> None:
        await self.execute(ctx)


def _replacing(current: Obj, wanted: Obj) -> Obj:
    """A merge patch that turns ``current`` into ``wanted`` (keys only in ``current`` → null)."""
    out: Obj = {}
    for key in current.keys() - wanted.keys():
        out[key] = None
    for key, value in wanted.items():
        old = current.get(key)
        out[key] = _replacing(old, value) if isinstance(value, dict) and isinstance(old, dict) else value
    return out
