"""Carry out one attempt of a remediation under the defender.

The order is fixed: dry-run plan, preconditions, the defender's decision (recorded with the plan),
then, only when granted, execute with the lease's fence, verify, and the outcome back to the
defender (which moves the breaker and frees or keeps the slot). ``shadow`` records what would have
been done and acts on nothing; ``approval`` without an approver records the proposal and waits.
Verification is the action's own check and, when given, the case that failed, run again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from kubeprobe.kube.errors import KubeError
from kubeprobe.remedy.actions.base import ActionContext, Plan, RemedyAction
from kubeprobe.remedy.defender.requests import Decision, Mode, Observation, Outcome, Target
from kubeprobe.remedy.defender.service import Defender
from kubeprobe.remedy.errors import ActionError, FenceError, PreconditionError

log = logging.getLogger(__name__)
CaseCheck = Callable[[Target], Awaitable[bool]]


@dataclass(frozen=True)
class Attempt:
    """What one attempt did: ``state`` is ``shadow``, ``awaiting-approval``, ``precondition``,
    ``denied``, ``fenced`` or the outcome (``verified``, ``failed``, ``unverified``)."""

    state: str
    plan: Plan
    decision: Decision | None = None
    problems: tuple[str, ...] = ()
    error: str = ""

    @property
    def acted(self) -> bool:
        return self.state in {str(o) for o in Outcome} or self.state == "fenced"


async def attempt(
    defender: Defender,
    action: RemedyAction,
    ctx: ActionContext,
    obs: Observation,
    *,
    remediation: str,
    mode: Mode,
    policy: str = "",
    policy_version: int = 0,
    approver: str = "",
    verify_case: CaseCheck | None = None,
) -> Attempt:
    ctx.remediation = remediation  # the plan names what execute makes (a RemedyOperation's name)
    plan = await action.plan(ctx)
    problems = tuple(await action.preconditions(ctx))
    lines = (*plan.lines(), *(f"precondition: {p}" for p in problems))
    req = action.request(
        remediation, mode=mode, policy=policy, policy_version=policy_version, approver=approver, plan=lines
    )
    waiting = mode is Mode.APPROVAL and not approver
    if mode is Mode.SHADOW or waiting or problems:
        decision = await defender.decide(req, obs, dry=True)
        state = "shadow" if mode is Mode.SHADOW else "precondition" if problems else "awaiting-approval"
        return Attempt(state, plan, decision, problems)
    decision = await defender.decide(req, obs)
    if not decision.allowed or decision.lease is None:
        return Attempt("denied", plan, decision)
    lease = decision.lease

    async def fence() -> None:
        await defender.check_fence(lease.target, lease.token)

    ctx.fence, ctx.token = fence, lease.token
    outcome, error = await _execute_and_verify(action, ctx, verify_case)
    if outcome is None:
        return Attempt("fenced", plan, decision, error=error)
    await defender.record_outcome(lease.target, lease.token, outcome, error)
    return Attempt(str(outcome), plan, decision, error=error)


async def _execute_and_verify(
    action: RemedyAction, ctx: ActionContext, verify_case: CaseCheck | None
) -> tuple[Outcome | None, str]:
    """The outcome (None when our lease was lost: the new owner reports) and what went wrong."""
    try:
        await action.execute(ctx)
    except FenceError as exc:
        log.warning("remediation %s: lost the lease on %s: %s", ctx.remediation, action.target.key, exc)
        return None, str(exc)
    except (ActionError, PreconditionError, KubeError) as exc:
        return Outcome.FAILED, f"execute: {exc}"
    try:
        if not await action.verify(ctx):
            return Outcome.FAILED, "the action's effect did not show before the deadline"
        if verify_case is not None and not await verify_case(action.target):
            return Outcome.FAILED, "the case that failed does not pass yet"
    except KubeError as exc:
        return Outcome.UNVERIFIED, f"verify: {exc}"
    return Outcome.VERIFIED, ""
