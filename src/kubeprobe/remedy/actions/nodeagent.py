"""Restart a node component (kubelet, container runtime, kube-proxy) through the node agent.

The center never touches a node's host: it creates a RemedyOperation
(:mod:`kubeprobe.remedy.operations`) naming the node and the action, and the node agent on that
node carries it out and writes the outcome to its status. The action waits for that status
(``ctx.timeout``), then verifies that the node is Ready again. The operation's name is the
remediation's, the action's and a nonce of this action (its plan names the object execute
creates); an existing object of that name is never taken for ours. It carries the lease's
fencing token (annotation). An execution is claimed once by the center (``approved → running``),
so nothing asks twice.

Preconditions: the node exists, the CRD is installed, and a node agent pod runs on the node
(without one the operation would wait forever). The dry-run plan shows the object it would create.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from kubeprobe.kube.errors import ConflictError, NotFoundError
from kubeprobe.kube.waiting import WaitTimeout, wait_for
from kubeprobe.remedy import operations as ops
from kubeprobe.remedy.actions.base import ACTIONS, FENCE_ANNOTATION, ActionContext, Obj, Plan
from kubeprobe.remedy.actions.nodes import NodeAction
from kubeprobe.remedy.defender.requests import RiskTier, Target
from kubeprobe.remedy.errors import ActionError
from kubeprobe.remedy.health import node_healthy

#: The label of the node agent's pods (the operator chart's DaemonSet).
AGENT_SELECTOR = "app.kubernetes.io/component=node-agent"
COMPONENT_ACTIONS = {component: action for action, component in ops.ACTIONS.items()}


@ACTIONS.register
class NodeComponentRestartAction(NodeAction):
    """Params: ``component`` (``kubelet`` (default), ``container-runtime``, ``kube-proxy``),
    ``reason`` (text for the operation). No undo (a restart)."""

    name = "restart-node-component"
    tier = RiskTier.DISRUPTIVE
    description = "restart kubelet, the container runtime or kube-proxy on a node through its node agent"

    def __init__(self, target: Target, params: Mapping[str, Any] | None = None) -> None:
        super().__init__(target, params)
        self.nonce = uuid.uuid4().hex[:6]

    @property
    def component(self) -> str:
        component = str(self.params.get("component") or "kubelet")
        if component not in COMPONENT_ACTIONS:
            raise ActionError(f"unknown component {component!r}; known: {', '.join(COMPONENT_ACTIONS)}")
        return component

    def body(self, ctx: ActionContext) -> Obj:
        remediation = ctx.remediation or f"kubeprobe-{self.target.name}"
        annotations = {FENCE_ANNOTATION: str(ctx.token)} if ctx.token else {}
        return ops.operation_body(
            self.target.name,
            COMPONENT_ACTIONS[self.component],
            remediation=remediation,
            nonce=self.nonce,
            reason=str(self.params.get("reason") or f"{self.name} by KubeProbe"),
            timeout_seconds=int(max(1, min(ctx.timeout, ops.TIMEOUT_RANGE[1]))),
            annotations=annotations,
        )

    async def preconditions(self, ctx: ActionContext) -> list[str]:
        try:
            self.component  # noqa: B018 (validates the param)
        except ActionError as exc:
            return [str(exc)]
        if await self.node(ctx) is None:
            return [f"node {self.target.name} does not exist"]
        try:
            await ctx.kube.get(ops.COLLECTION, limit=1)
        except NotFoundError:
            return [
                f"the RemedyOperation CRD is not installed in {self.target.cluster}: install the "
                "operator chart (it ships the CRD) with nodeAgent.enabled=true"
            ]
        agents = await ctx.kube.list_all(
            "/api/v1/pods", labelSelector=AGENT_SELECTOR, fieldSelector=f"spec.nodeName={self.target.name}"
        )
        if not any((p.get("status") or {}).get("phase") == "Running" for p in agents):
            return [f"no node agent runs on node {self.target.name} (DaemonSet pods {AGENT_SELECTOR})"]
        return []

    async def plan(self, ctx: ActionContext) -> Plan:
        body = self.body(ctx)
        return Plan(
            self.name,
            self.tier,
            self.target,
            (
                f"create RemedyOperation {body['metadata']['name']}: the node agent on "
                f"{self.target.name} restarts {self.component}",
                "object: " + json.dumps(body, sort_keys=True, separators=(",", ":")),
                f"wait for its status (Succeeded) and node {self.target.name} Ready",
            ),
            undo="none (a restart)",
        )

    async def execute(self, ctx: ActionContext) -> None:
        body = self.body(ctx)
        name = body["metadata"]["name"]
        await ctx.fence()
        try:
            await ctx.kube.create(ops.COLLECTION, body)
        except ConflictError as exc:
            raise ActionError(f"a RemedyOperation named {name} exists already: not ours") from exc
        try:
            done = await wait_for(
                lambda: ctx.kube.get(ops.path(name)),
                lambda o: ops.phase_of(o) in ops.TERMINAL,
                timeout=ctx.timeout,
                interval=ctx.interval,
                what=f"RemedyOperation {name}",
            )
        except WaitTimeout as exc:
            last: Any = exc.last
            phase = ops.phase_of(last) if isinstance(last, dict) else "unknown"
            raise ActionError(
                f"RemedyOperation {name} is still {phase} after {ctx.timeout:.0f}s: no answer from the "
                f"node agent on {self.target.name}"
            ) from exc
        status = done.get("status") or {}
        if ops.phase_of(done) != ops.SUCCEEDED:
            raise ActionError(f"RemedyOperation {name} {ops.phase_of(done)}: {status.get('message', '')}")

    async def verify(self, ctx: ActionContext) -> bool:
        async def ready() -> bool:
            node = await self.node(ctx)
            return node is not None and node_healthy(node)

        try:
            await wait_for(ready, bool, timeout=ctx.timeout, interval=ctx.interval, what="node Ready")
        except WaitTimeout:
            return False
        return True
