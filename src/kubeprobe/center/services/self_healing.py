"""Self-healing: incidents whose analysis says ``self-heal`` become remediations by policy.

`SelfHealing` sits between the analysis worker and the incident service (it has the signal
sink's face): every signal goes to incidents first; a ``FAILED`` signal whose verdict is
``self-heal`` then asks the policies (:mod:`kubeprobe.remedy.policies`) which remediation answers
its cause there. The first matching policy's next ladder step becomes one remediation of the
incident, in the policy's mode: ``shadow`` and ``auto`` run at once (shadow records what would
have been done), ``approval`` waits for an approve (API, CLI, dashboard, chat).

A step with ``on_verified: next`` leads, once verified, straight to the policy's next step on the
same target (a sequence such as node.not_ready: drain, restart the kubelet through the node
agent, uncordon). One remediation per incident at a time; a policy whose ladder ran out, or one a
person denied, proposes nothing more for that incident; nor while the action's breaker on the
cluster is open (a person closes it); a shadow policy records its proposal once.

Targets come from what the failure showed: a node action takes the first NotReady node of the
evidence; a pod action the first troubled pod (crash-looping, stuck) matching the step's
``selector`` in its ``namespace``; any action a fixed ``target: {name, namespace}`` in its params.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from kubeprobe.alerting.signals import Outcome, Signal
from kubeprobe.analysis.severity import Action
from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.errors import CenterError
from kubeprobe.center.schemas.remedy import RemediationIn, RemediationOut
from kubeprobe.center.services.remediation import TERMINAL, execute, ladder_tries
from kubeprobe.center.settings import RemedySettings
from kubeprobe.center.store import remediations
from kubeprobe.center.store.clusters import connection_of
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.remedy import SqlDefenderStore
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import KubeError
from kubeprobe.remedy.actions import ACTIONS
from kubeprobe.remedy.actions.pods import pod_trouble
from kubeprobe.remedy.defender import Defender, DefenderSettings, Mode, RateSettings
from kubeprobe.remedy.defender.rules import bucket_key
from kubeprobe.remedy.errors import RemedyError
from kubeprobe.remedy.policies import LadderStep, Policy, PolicySet, load_policies

log = logging.getLogger(__name__)
#: Keys of a ladder step's params that choose the target; the rest go to the action.
TARGET_KEYS = ("target", "selector", "namespace")


class IncidentSink(Protocol):
    async def observe(self, signal: Signal) -> int | None: ...


def load_policy_file(path: Path | None) -> PolicySet:
    return load_policies(path.read_text()) if path is not None else PolicySet()


class SelfHealing:
    """Signals → incidents → remediations by policy; runs the ones that need no approval."""

    def __init__(
        self,
        store: Store,
        box: SecretBox,
        incidents: IncidentSink | None = None,
        settings: RemedySettings | None = None,
        *,
        policies: PolicySet | None = None,
        defender: DefenderSettings | None = None,
        replica: str = "center",
    ) -> None:
        self.store, self.box, self.incidents = store, box, incidents
        self.settings = settings or RemedySettings()
        self.policies = policies if policies is not None else load_policy_file(self.settings.policies_file)
        rates = replace(
            RateSettings(),
            action_burst=self.settings.action_burst,
            action_per_hour=self.settings.action_per_hour,
            fleet_burst=self.settings.fleet_burst,
            fleet_per_hour=self.settings.fleet_per_hour,
        )
        self.defender = defender or DefenderSettings(rates=rates)
        self.replica = replica
        self.tasks: set[asyncio.Task[str]] = set()

    async def observe(self, signal: Signal) -> int | None:
        """Hand the signal to incidents, then propose what a policy says for a self-heal verdict."""
        incident = await self.incidents.observe(signal) if self.incidents is not None else None
        if signal.outcome is Outcome.FAILED and signal.action == str(Action.SELF_HEAL) and incident:
            try:
                await self.propose_for(signal, incident)
            except (CenterError, KubeError, RemedyError) as exc:
                log.warning("self-healing for incident %s (%s): %s", incident, signal.cause, exc)
        return incident

    async def propose_for(self, signal: Signal, incident: int) -> RemediationOut | None:
        """The next remediation of ``incident`` by the first matching policy (None: nothing to do)."""
        policy = self.policies.select(signal.cause, signal.cluster_labels, signal.case)
        if policy is None:
            return None

        async def target_of(rung: LadderStep) -> tuple[str, str] | None:
            return await self._target(signal, rung)

        return await self._propose(policy, incident, signal.cluster, target_of)

    async def continue_after(self, rid: int) -> RemediationOut | None:
        """After a verified step with ``on_verified: next``, the policy's next step on the same
        target (a sequence: drain, restart, uncordon), proposed at once."""
        async with self.store.transaction() as s:
            rem = await remediations.get(s, rid)
        policy = next((p for p in self.policies.policies if p.name == rem.policy), None)
        if policy is None or rem.incident_id is None or not 0 <= rem.step < len(policy.ladder):
            return None
        if policy.ladder[rem.step].on_verified != "next":
            return None

        async def same_target(rung: LadderStep) -> tuple[str, str] | None:
            fixed = rung.params.get("target")
            if isinstance(fixed, Mapping) and fixed.get("name"):
                return str(fixed.get("namespace") or ""), str(fixed["name"])
            return (rem.namespace, rem.name) if ACTIONS.get(rung.action).kind == rem.kind else None

        return await self._propose(policy, rem.incident_id, rem.cluster, same_target)

    async def _propose(
        self,
        policy: Policy,
        incident: int,
        cluster: str,
        target_of: Callable[[LadderStep], Awaitable[tuple[str, str] | None]],
    ) -> RemediationOut | None:
        async with self.store.transaction() as s:
            earlier = [
                r
                for r in await remediations.list_remediations(s, state=None, limit=1000, incident=incident)
                if r.policy == policy.name
            ]
        if _done_with(policy, earlier):
            return None
        step = policy.next_step(ladder_tries(earlier, policy.name))
        if step is None:
            return None
        index, rung = step
        breaker = (await Defender(SqlDefenderStore(self.store)).state()).breakers.get(
            bucket_key(rung.action, cluster)
        )
        if breaker is not None and breaker.open:  # until a person closes it: the incident escalated
            return None
        target = await target_of(rung)
        if target is None:
            log.info(
                "self-healing: policy %s found no target for %s on %s", policy.name, rung.action, cluster
            )
            return None
        params = {k: v for k, v in rung.params.items() if k not in TARGET_KEYS}
        body = RemediationIn(
            cluster=cluster,
            action=rung.action,
            name=target[1],
            namespace=target[0],
            params=params,
            mode=policy.mode,
            incident_id=incident,
        )
        state = "awaiting-approval" if policy.mode is Mode.APPROVAL else "approved"
        async with self.store.transaction() as s:
            out = await remediations.propose_unless_changed(
                s, body, ACTIONS.get(rung.action).kind, f"policy:{policy.name}", state,
                policy=(policy.name, policy.version, index), seen=len(earlier),
            )  # fmt: skip
        if out is None:  # another replica proposed for this incident meanwhile
            return None
        log.info(
            "incident %s: remediation %s proposed (%s %s/%s, %s)",
            incident,
            out.id,
            rung.action,
            target[0],
            target[1],
            policy.mode,
        )
        if state == "approved":
            self.start(out.id, rung.timeout_seconds)
        return out

    def start(self, rid: int, timeout: float = 120.0) -> asyncio.Task[str]:
        """Execute ``rid`` in the background (it runs once even if started twice)."""
        task = asyncio.create_task(self._execute(rid, timeout))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _execute(self, rid: int, timeout: float) -> str:
        state = await execute(
            self.store,
            self.box,
            rid,
            replica=self.replica,
            settings=self.defender,
            remedy=self.settings,
            policies=self.policies,
            timeout=timeout,
        )
        if state == "verified":
            try:
                await self.continue_after(rid)
            except (CenterError, KubeError, RemedyError) as exc:
                log.warning("self-healing after remediation %s: %s", rid, exc)
        return state

    def timeout_of(self, rem: RemediationOut) -> float:
        policy = next((p for p in self.policies.policies if p.name == rem.policy), None)
        return policy.ladder[rem.step].timeout_seconds if policy and rem.step < len(policy.ladder) else 120.0

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _target(self, signal: Signal, rung: LadderStep) -> tuple[str, str] | None:
        """(namespace, name) of what ``rung`` acts on for this failure, or None."""
        fixed = rung.params.get("target")
        if isinstance(fixed, Mapping) and fixed.get("name"):
            return str(fixed.get("namespace") or ""), str(fixed["name"])
        kind = ACTIONS.get(rung.action).kind
        if kind == "Node":
            facts = signal.evidence.get("facts")
            nodes = facts.get("not_ready_nodes") if isinstance(facts, Mapping) else None
            return ("", str(nodes[0])) if isinstance(nodes, list) and nodes else None
        if kind == "Pod" and rung.params.get("namespace"):
            return await self._troubled_pod(signal.cluster, rung.params)
        return None

    async def _troubled_pod(self, cluster: str, params: Mapping[str, Any]) -> tuple[str, str] | None:
        namespace, selector = str(params["namespace"]), str(params.get("selector") or "")
        async with self.store.transaction() as s:
            conn = await connection_of(s, self.box, cluster)
        async with KubeClient(conn, timeout=30) as kube:
            query = {"labelSelector": selector} if selector else {}
            pods = await kube.list_all(f"/api/v1/namespaces/{namespace}/pods", **query)
        now = time.time()
        for pod in pods:
            trouble = pod_trouble(
                pod,
                min_restarts=int(params.get("min_restarts", 3)),
                stuck_seconds=float(params.get("stuck_seconds", 300)),
                now=now,
            )
            if trouble and not (pod.get("metadata") or {}).get("deletionTimestamp"):
                return namespace, str(pod["metadata"]["name"])
        return None


def _done_with(policy: Policy, earlier: list[RemediationOut]) -> bool:
    """Nothing more for this incident: one still going, a person denied one, or (shadow) recorded."""
    if any(r.state not in TERMINAL for r in earlier):
        return True
    if any(r.state == "denied" and not r.result.get("denials") for r in earlier):
        return True
    return policy.mode is Mode.SHADOW and any(r.state == "shadow" for r in earlier)
