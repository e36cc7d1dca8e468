"""Restart a stalled control-plane component of a cluster whose components KubeProbe can reach,
through whatever keeps them running (the sandbox's supervisor; a kubelet for static pods).

The action kills the component and lets its supervisor start it again, as a kubelet restarts a
static pod; it never starts a second copy itself. It is a control-plane action: the defender
lets only one run per cluster at a time.
"""

from __future__ import annotations

from typing import Protocol

from kubeprobe.kube.waiting import WaitTimeout, wait_for
from kubeprobe.remedy.actions.base import ACTIONS, ActionContext, Plan, RemedyAction
from kubeprobe.remedy.defender.requests import RiskTier
from kubeprobe.remedy.errors import PreconditionError


class ComponentSupervisor(Protocol):
    """What keeps a cluster's control-plane components running."""

    def components(self) -> tuple[str, ...]: ...

    async def component_healthy(self, component: str) -> bool: ...

    async def restart_component(self, component: str) -> None:
        """Kill the component; the supervisor starts it again."""
        ...


@ACTIONS.register
class ControlPlaneRestartAction(RemedyAction):
    """Target kind ``Component``, name the component. Params: ``force`` (False: only when it is
    unhealthy)."""

    name = "control-plane-restart"
    tier = RiskTier.DISRUPTIVE
    kind = "Component"
    control_plane = True
    description = "restart a stalled control-plane component through its supervisor"

    async def preconditions(self, ctx: ActionContext) -> list[str]:
        sup = ctx.supervisor
        if sup is None:
            return [f"KubeProbe cannot reach the control-plane components of {self.target.cluster}"]
        if self.target.name not in sup.components():
            return [f"unknown component {self.target.name!r}; known: {', '.join(sup.components())}"]
        if not self.params.get("force") and await sup.component_healthy(self.target.name):
            return [f"{self.target.name} is healthy: nothing to restart"]
        return []

    async def plan(self, ctx: ActionContext) -> Plan:
        return Plan(
            self.name,
            self.tier,
            self.target,
            (f"kill {self.target.name} of cluster {self.target.cluster}; its supervisor starts it again",),
            undo="none (a restart)",
        )

    async def execute(self, ctx: ActionContext) -> None:
        if ctx.supervisor is None:
            raise PreconditionError(f"no supervisor for the components of {self.target.cluster}")
        await ctx.fence()
        await ctx.supervisor.restart_component(self.target.name)

    async def verify(self, ctx: ActionContext) -> bool:
        sup = ctx.supervisor
        if sup is None:
            return False
        try:
            await wait_for(
                lambda: sup.component_healthy(self.target.name),
                bool,
                timeout=ctx.timeout,
                interval=ctx.interval,
                what=f"{self.target.name} healthy",
            )
        except WaitTimeout:
            return False
        return True
