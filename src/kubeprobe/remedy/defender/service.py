"""`Defender`: the rules over a shared store, for one center replica.

Each call is one compare-and-set transaction: load the state, apply a pure function, commit the
new state with its audit records; on a conflict (another replica committed first) load again and
decide again on what the winner left. The clock is injected (wall-clock seconds, as replicas
share the state) so tests drive time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from kubeprobe.remedy.defender import outcomes, rules
from kubeprobe.remedy.defender.requests import Decision, Observation, Outcome, Request
from kubeprobe.remedy.defender.settings import DefenderSettings
from kubeprobe.remedy.defender.state import AuditRecord, DefenderState
from kubeprobe.remedy.defender.store import DefenderStore
from kubeprobe.remedy.errors import DefenderBusyError

T = TypeVar("T")
Change = Callable[[DefenderState, float], tuple[T, list[AuditRecord]]]


class Defender:
    """Risk control for every remediation, shared by the center's replicas through ``store``."""

    def __init__(
        self,
        store: DefenderStore,
        settings: DefenderSettings | None = None,
        *,
        replica: str = "center",
        clock: Callable[[], float] = time.time,
        max_attempts: int = 50,
    ) -> None:
        self.store = store
        self.settings = settings or DefenderSettings()
        self.replica = replica
        self.clock = clock
        self.max_attempts = max_attempts

    async def _transact(self, change: Change[T]) -> T:
        for _ in range(self.max_attempts):
            version, state = await self.store.load()
            now = self.clock()
            result, audit = change(state, now)
            outcomes.prune(state, self.settings, now)
            if await self.store.commit(version, state, audit):
                return result
        raise DefenderBusyError(f"the defender state changed {self.max_attempts} times while deciding")

    def _record(self, now: float, event: str, **fields: Any) -> AuditRecord:
        return AuditRecord(at=now, event=event, replica=self.replica, **fields)

    async def decide(self, req: Request, obs: Observation, *, dry: bool = False) -> Decision:
        """Check ``req``; unless ``dry`` (shadow mode, a proposal awaiting approval), take a slot,
        tokens and a lease when it passes. Recorded in the audit either way; a storm seen for
        the first time comes back as a P1 page in ``Decision.pages``."""

        def change(state: DefenderState, now: float) -> tuple[Decision, list[AuditRecord]]:
            decision = rules.evaluate(state, self.settings, req, obs, now=now, replica=self.replica, dry=dry)
            audit = [self._decision_record(req, decision)]
            audit += [
                self._record(now, "storm", cluster=req.target.cluster, detail=f"{p.scope}: {p.reason}")
                for p in decision.pages
            ]
            return decision, audit

        return await self._transact(change)

    async def preview(self, req: Request, obs: Observation) -> Decision:
        """What :meth:`decide` would answer now, without recording anything (a plan preview)."""
        _, state = await self.store.load()
        return rules.evaluate(
            state, self.settings, req, obs, now=self.clock(), replica=self.replica, dry=True
        )

    def _decision_record(self, req: Request, d: Decision) -> AuditRecord:
        return self._record(
            d.at,
            "decision",
            request_id=req.id,
            action=req.action,
            cluster=req.target.cluster,
            target=req.target.key,
            policy=req.policy,
            policy_version=req.policy_version,
            mode=str(req.mode),
            approver=req.approver,
            allowed=d.allowed,
            denials=tuple(f"{x.code}: {x.message}" for x in d.denials),
            counters=dict(d.counters),
            plan=req.plan,
            outcome="dry" if d.dry else ("granted" if d.allowed else "denied"),
            detail="" if d.lease is None else f"token {d.lease.token}",
        )

    async def record_outcome(self, target: str, token: int, outcome: Outcome, detail: str = "") -> bool:
        """Report how an attempt ended; False when the token was stale (nothing changed)."""

        def change(state: DefenderState, now: float) -> tuple[bool, list[AuditRecord]]:
            slot, event = outcomes.record_outcome(
                state, self.settings.breaker, target=target, token=token, outcome=outcome, now=now
            )
            if slot is None:
                return False, []
            common = {"request_id": slot.request_id, "action": slot.action, "cluster": slot.cluster}
            audit = [
                self._record(now, "outcome", target=target, outcome=str(outcome), detail=detail, **common)
            ]
            if event:
                breaker = state.breakers[rules.bucket_key(slot.action, slot.cluster)]
                audit.append(self._record(now, "breaker-open", detail=breaker.reason, **common))
            return True, audit

        return await self._transact(change)

    async def check_fence(self, target: str, token: int) -> None:
        """Raise FenceError unless ``token`` still owns ``target`` with a live lease."""
        _, state = await self.store.load()
        outcomes.current_slot(state, target, token, self.clock())

    async def renew(self, target: str, token: int) -> float:
        """Extend a live lease; returns its new end. FenceError if it is no longer ours."""

        def change(state: DefenderState, now: float) -> tuple[float, list[AuditRecord]]:
            return outcomes.renew(state, target, token, now, self.settings.lease_seconds), []

        return await self._transact(change)

    async def release(self, target: str, *, by: str, reason: str) -> None:
        def change(state: DefenderState, now: float) -> tuple[None, list[AuditRecord]]:
            slot = outcomes.release(state, target)
            return None, [
                self._record(
                    now,
                    "release",
                    request_id=slot.request_id,
                    action=slot.action,
                    cluster=slot.cluster,
                    target=target,
                    approver=by,
                    detail=reason,
                )
            ]

        await self._transact(change)

    async def pause(self, *, cluster: str = "*", action: str = "*", by: str, reason: str = "") -> None:
        """The kill switch: nothing matching (cluster, action) is granted until `resume`."""

        def change(state: DefenderState, now: float) -> tuple[None, list[AuditRecord]]:
            outcomes.pause(state, cluster, action, by=by, reason=reason, now=now)
            return None, [
                self._record(now, "pause", cluster=cluster, action=action, approver=by, detail=reason)
            ]

        await self._transact(change)

    async def resume(self, *, cluster: str = "*", action: str = "*", by: str) -> None:
        def change(state: DefenderState, now: float) -> tuple[None, list[AuditRecord]]:
            outcomes.resume(state, cluster, action)
            return None, [self._record(now, "resume", cluster=cluster, action=action, approver=by)]

        await self._transact(change)

    async def close_breaker(self, *, action: str, cluster: str, by: str, reason: str = "") -> None:
        def change(state: DefenderState, now: float) -> tuple[None, list[AuditRecord]]:
            outcomes.close_breaker(state, action, cluster)
            return None, [
                self._record(now, "breaker-close", action=action, cluster=cluster, approver=by, detail=reason)
            ]

        await self._transact(change)

    async def state(self) -> DefenderState:
        return (await self.store.load())[1]
