"""The analysis worker: every finished run is analysed once and handed to incident management.

For each run claimed from the store (see :mod:`kubeprobe.center.store.analysis`):

- ``succeeded`` → a ``PASSED`` signal (so what the case had open resolves).
- ``failed`` / ``error`` / ``timed_out`` → evidence (the cluster's view of the run, component
  health, other runs failing around it, recent change events) → diagnosis (the API's words,
  component health, rules, classifier: :mod:`kubeprobe.analysis.diagnosis`) → secondary
  verification → severity → a ``FAILED`` or ``FLAKE`` signal that says whether the run's own
  evidence named its cause (``firm``: else it joins an incident open on its cluster).

Secondary verification (``verify``, on by default) re-queries the API server (component health
again) and re-runs the failing case once: a built-in case runs again in this process through
:func:`kubeprobe.cases.execute.execute` against the cluster, with its own run id and a short
deadline (``rerun_timeout_seconds``). That is the "local runner" path without a subprocess, and it
repeats exactly the steps that failed. A case that is not built in (an image or an external
entry point) is not re-run; only the re-query decides, and a failure that cannot be re-checked is
escalated, never dropped. A re-run that succeeds makes the failure a ``FLAKE``: recorded, not
escalated. A re-run that cannot run (``error``) proves nothing and leaves the failure standing.
No re-run when there is nothing left to learn: a resident probe's failure (its operator reports
failing only after F of the last N runs failed: that rule is its verification), a cause that is a
component the evidence just found down, or a re-query that still finds one down.

Verdicts are stored in ``run_analysis`` and served at ``GET /api/v1/runs/{id}/analysis``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from kubeprobe.alerting.signals import Outcome, Signal
from kubeprobe.analysis.classifier import Classifier, parse_corpus
from kubeprobe.analysis.diagnosis import COMPONENT_RULE, Diagnosis, diagnose
from kubeprobe.analysis.evidence import component_evidence
from kubeprobe.analysis.rules import Rule, builtin_rules
from kubeprobe.analysis.run_evidence import EvidenceLimits, cluster_evidence, evidence_events
from kubeprobe.analysis.severity import Scope, assess
from kubeprobe.analysis.texts import FailureText
from kubeprobe.cases.execute import execute
from kubeprobe.cases.registry import CaseRegistry, builtin_registry
from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.errors import StoreUnavailableError
from kubeprobe.center.services.training import train_apart
from kubeprobe.center.settings import AnalysisSettings, Links
from kubeprobe.center.store import analysis as store_analysis
from kubeprobe.center.store.clusters import connection_of
from kubeprobe.center.store.database import Store
from kubeprobe.kube.client import KubeClient
from kubeprobe.model import Severity

log = logging.getLogger(__name__)


class SignalSink(Protocol):
    """Where signals go: :class:`kubeprobe.center.services.alerting.IncidentService` has this face."""

    async def observe(self, signal: Signal) -> Any: ...


@dataclass(frozen=True)
class Verification:
    done: bool
    reproduced: bool
    method: str
    detail: dict[str, Any]


#: Rounds a claim is analysed again after the store was unavailable, before its lease takes over.
RETRIES = 10


class AnalysisWorker:
    """Claims finished runs and analyses them, one replica among several sharing the store."""

    def __init__(
        self,
        store: Store,
        box: SecretBox,
        sink: SignalSink | None = None,
        *,
        settings: AnalysisSettings | None = None,
        links: Links | None = None,
        registry: CaseRegistry | None = None,
        rules: list[Rule] | None = None,
        replica: str | None = None,
    ) -> None:
        self.store = store
        self.box = box
        self.sink = sink
        self.settings = settings or AnalysisSettings()
        self.links = links or Links(None)
        self.registry = registry or builtin_registry()
        self.rules = rules if rules is not None else builtin_rules()
        self.replica = replica or f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.wake = asyncio.Event()
        self._classifier: Classifier | None = None
        self._feedback_count = -1
        self._training = asyncio.Lock()
        #: run id → tries: claims held whose analysis met an unavailable store (SQLite busy, the
        #: database away), analysed again next round instead of waiting out the claim's lease
        self._again: dict[str, int] = {}
        #: cluster → (when, evidence) of its last resident failure: resident probes make no objects
        #: of their own, so the cluster's evidence serves every resident failure of the next seconds
        self._resident_evidence: dict[str, tuple[float, dict[str, Any]]] = {}

    # -- loop ------------------------------------------------------------------------------------
    async def run_forever(self) -> None:
        warming = asyncio.create_task(self.warm())
        try:
            await self._loop()
        finally:
            warming.cancel()
            await asyncio.gather(warming, return_exceptions=True)

    async def warm(self) -> bool:
        """Load a classifier trained before (``model_cache``) while nothing failed yet: loading it
        in its child process takes seconds on a busy machine, which the first failure of a center
        would otherwise wait for. Nothing is trained here (a first start trains when needed)."""
        cache = self.settings.model_cache
        if cache is None or not any(cache.glob("rca-model-*.pickle")):
            return False
        try:
            async with self.store.transaction() as session:
                feedback = await store_analysis.feedback_lines(session)
            await self._classifier_for(feedback)
        except Exception:  # the first failure will load it then
            log.warning("analysis: the classifier could not be loaded ahead", exc_info=True)
            return False
        return True

    async def _loop(self) -> None:
        while True:
            try:
                await self.analyse_pending()
            except Exception:  # the database may be away: keep the loop alive, retry
                log.exception("analysis: a round failed; retrying")
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.settings.poll_seconds)

    async def analyse_pending(self) -> list[str]:
        """One round: claim a batch and analyse it. Returns the run ids analysed."""
        s = self.settings
        async with self.store.transaction() as session:
            claimed = await store_analysis.claim(
                session,
                self.replica,
                limit=s.batch,
                lookback=dt.timedelta(seconds=s.lookback_seconds),
                lease=dt.timedelta(seconds=s.lease_seconds),
            )
        again = list(self._again)
        for run_id in [*again, *claimed]:
            try:
                await self.analyse(run_id)
            except StoreUnavailableError as exc:
                tries = self._again.get(run_id, 0) + 1
                if tries < RETRIES:
                    log.warning(
                        "analysis of run %s: the store is unavailable (%s); again next round", run_id, exc
                    )
                    self._again[run_id] = tries
                    continue
                log.warning(
                    "analysis of run %s: the store stayed unavailable; its claim's lease will tell", run_id
                )
            self._again.pop(run_id, None)
        return [r for r in [*again, *claimed] if r not in self._again]

    async def analyse(self, run_id: str) -> None:
        """Analyse one claimed run; a failure here is stored as the analysis error, not lost."""
        try:
            values, signal = await self._analyse(run_id)
        except asyncio.CancelledError:
            raise
        except StoreUnavailableError:
            raise  # the claim stays; its lease runs out and the analysis is retried
        except Exception as exc:
            log.exception("analysis of run %s failed", run_id)
            values, signal = {"outcome": "error", "error": f"{type(exc).__name__}: {exc}"[:2000]}, None
        async with self.store.transaction() as session:
            saved = await store_analysis.save(session, run_id, self.replica, values)
        if saved and signal is not None and self.sink is not None:
            await self.sink.observe(signal)

    # -- one run ---------------------------------------------------------------------------------
    async def _analyse(self, run_id: str) -> tuple[dict[str, Any], Signal | None]:
        async with self.store.transaction() as session:
            ctx = await store_analysis.run_context(session, run_id)
            if ctx is None:
                return {"outcome": "error", "error": "the run is gone"}, None
        link = self.links.run(run_id)
        base = Signal(
            run_id=ctx.run_id,
            cluster=ctx.cluster,
            case=ctx.case,
            outcome=Outcome.PASSED,
            at=ctx.finished,
            cluster_labels=ctx.cluster_labels,
            run_url=link,
        )
        if ctx.state == "succeeded":
            return {"outcome": str(Outcome.PASSED)}, base
        log.info("analysing run %s case %s cluster %s (%s)", ctx.run_id, ctx.case, ctx.cluster, ctx.state)
        s = self.settings
        async with self.store.transaction() as session:
            around = await store_analysis.failing_around(session, ctx, dt.timedelta(seconds=s.window_seconds))
            consecutive = await store_analysis.consecutive_failures(session, ctx)
            changes = await store_analysis.recent_changes(
                session, ctx, dt.timedelta(seconds=s.changes_seconds)
            )
            feedback = await store_analysis.feedback_lines(session)
            conn = await connection_of(session, self.box, ctx.cluster)
        classifier = await self._classifier_for(feedback)
        limits = EvidenceLimits(budget_seconds=s.evidence_budget_seconds)
        async with KubeClient(conn, timeout=limits.request_seconds * 2) as kube:
            resident = ctx.details.get("resident") or {}
            evidence = await self._evidence(kube, ctx, limits, bool(resident))
            runner = ctx.details.get("runner") or {}
            events = (*evidence_events(evidence), *[str(e) for e in runner.get("events") or []][-10:])
            # a resident probe's run has no steps: its probe type is the step that failed
            failure = FailureText(ctx.failed_step or str(resident.get("probe") or ""), _messages(ctx), events)
            diagnosis = await asyncio.to_thread(
                diagnose,
                failure,
                classifier,
                self.rules,
                evidence["facts"],
                apiserver=conn.server,
                evidence_age_s=(dt.datetime.now(dt.UTC) - ctx.finished).total_seconds(),
            )
            verification = await self._verify(kube, ctx, diagnosis, bool(resident)) if s.verify else None
        facts = {"failing_around": around, "consecutive_failures": consecutive}
        return self._result(
            base,
            ctx,
            diagnosis=diagnosis,
            verification=verification,
            evidence=evidence,
            runner=runner,
            events=events,
            facts=facts,
            changes=changes,
        )

    def _result(
        self,
        base: Signal,
        ctx: store_analysis.RunContext,
        *,
        diagnosis: Diagnosis,
        verification: Verification | None,
        evidence: dict[str, Any],
        runner: dict[str, Any],
        events: tuple[str, ...],
        facts: dict[str, Any],
        changes: list[dict[str, Any]],
    ) -> tuple[dict[str, Any], Signal]:
        """The stored analysis and the signal for the incident service, from what was found."""
        around, consecutive = facts["failing_around"], facts["consecutive_failures"]
        scope = _scope(around)
        verdict = assess(
            diagnosis.cause,
            scope,
            consecutive,
            _severity(ctx.binding_severity),
            self_healing=self.settings.self_healing,
        )
        outcome = (
            Outcome.FLAKE
            if verification and verification.done and not verification.reproduced
            else Outcome.FAILED
        )
        summary = _summary(ctx, evidence, runner, facts, changes)
        summary.update(scope=str(scope), events_used=list(events)[:20])
        summary["alternatives"] = diagnosis.to_dict()["alternatives"]
        summary.update(basis=diagnosis.basis, explanation=diagnosis.explanation)
        values = {
            "outcome": str(outcome),
            "cause": diagnosis.cause,
            "confidence": round(diagnosis.confidence, 4),
            "source": diagnosis.source,
            "rule": diagnosis.rule,
            "priority": verdict.priority,
            "action": str(verdict.action),
            "reason": verdict.reason,
            "evidence": summary,
            "verification": _verification_json(verification),
        }
        signal = dataclasses.replace(
            base,
            outcome=outcome,
            step=ctx.failed_step or None,
            message="; ".join(ctx.messages)[:1000],
            cause=diagnosis.cause,
            confidence=diagnosis.confidence,
            priority=verdict.priority,
            action=str(verdict.action),
            reason=f"{diagnosis.basis}; {verdict.reason}" if diagnosis.basis else verdict.reason,
            evidence={
                k: summary[k]
                for k in (
                    "run_state",
                    "reachable",
                    "facts",
                    "scope",
                    "failing_around",
                    "basis",
                    "explanation",
                )
            },
            firm=diagnosis.firm,
            started=ctx.created,
            recent_changes=tuple(f"{c.get('type')}:{c.get('id')}" for c in changes),
        )
        return values, signal

    async def _evidence(
        self, kube: KubeClient, ctx: store_analysis.RunContext, limits: EvidenceLimits, resident: bool
    ) -> dict[str, Any]:
        cached = self._resident_evidence.get(ctx.cluster) if resident else None
        if cached is not None and time.monotonic() - cached[0] <= RESIDENT_EVIDENCE_S:
            return cached[1]
        evidence = await cluster_evidence(
            kube,
            ctx.run_id,
            pod_runner=ctx.pod_runner,
            limits=limits,
            now=dt.datetime.now(dt.UTC),
            since=ctx.created - dt.timedelta(seconds=60),
        )
        if resident:
            self._resident_evidence[ctx.cluster] = (time.monotonic(), evidence)
        return evidence

    async def _classifier_for(self, feedback: list[dict[str, Any]]) -> Classifier:
        async with self._training:  # one load at a time: the warm-up's, then the analyses'
            if self._classifier is None or len(feedback) != self._feedback_count:
                extra = parse_corpus([_json_line(f) for f in feedback], "rca_feedback") if feedback else []
                self._classifier = await train_apart(extra, self.settings.model_cache)
                self._feedback_count = len(feedback)
            return self._classifier

    async def _verify(
        self, kube: KubeClient, ctx: store_analysis.RunContext, diagnosis: Diagnosis, resident: bool
    ) -> Verification:
        """Re-query the API server, then re-run the case once (built-in cases only); see the module."""
        if resident:
            return Verification(True, True, "denoised", {"by": "the operator's failure rule (F of N runs)"})
        if diagnosis.rule == COMPONENT_RULE:
            return Verification(True, True, "evidence", {"by": diagnosis.basis})
        requery = await component_evidence(kube)
        component_down = bool(
            requery.get("unreachable")
            or requery.get("apiserver_ready") is False
            or requery.get("etcd_healthy") is False
            or requery.get("stale_leases")
        )
        detail: dict[str, Any] = {"requery": requery}
        if component_down:  # still down: reproduced, a re-run would only wait out its deadline
            return Verification(True, True, "requery", detail)
        if not self.settings.rerun or ctx.template not in {t.name for t in self.registry.all()}:
            # No re-run possible: a component still down reproduces; otherwise we cannot tell.
            return Verification(component_down, True, "requery", detail)
        template = self.registry.get(ctx.template)
        timeout = min(self.settings.rerun_timeout_seconds, template.timeout_seconds)
        rerun_id = f"{ctx.run_id[:24]}-verify"
        outcome = await execute(
            template,
            ctx.params,
            kube,
            run_id=rerun_id,
            cluster=ctx.cluster,
            case=ctx.case,
            deadline=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=timeout),
        )
        detail["rerun"] = {"state": outcome.state, "messages": list(outcome.body.get("messages", []))[:5]}
        if outcome.state == "error":  # could not run: proves nothing, the failure stands
            return Verification(False, True, "requery+rerun", detail)
        return Verification(True, outcome.state != "succeeded" or component_down, "requery+rerun", detail)


#: How long the evidence of one resident failure serves the next ones of its cluster (a fault makes
#: every resident probe of a cluster fail within seconds: one collection instead of one each).
RESIDENT_EVIDENCE_S = 5.0


def _messages(ctx: store_analysis.RunContext) -> tuple[str, ...]:
    """The run's messages and failed steps' errors; for a run that ended in error (a run pod that
    reported nothing), also the last lines of its log: the case's own words on why it could not run."""
    errors = [e for _, ok, e in ctx.steps if not ok and e]
    logs = str((ctx.details.get("runner") or {}).get("logs") or "") if ctx.state == "error" else ""
    tail = [line.strip()[:400] for line in logs.splitlines()[-3:] if line.strip()]
    return tuple(dict.fromkeys([*ctx.messages, *errors, *tail]))[:10]


def _severity(name: str) -> Severity:
    try:
        return Severity(name)
    except ValueError:
        return Severity.MEDIUM


def _summary(
    ctx: Any, evidence: dict[str, Any], runner: dict[str, Any], history: dict[str, Any], changes: list[Any]
) -> dict[str, Any]:
    """The evidence kept with a run's analysis (bounded: logs cut, lists as gathered)."""
    return {
        "run_state": ctx.state,
        "reachable": evidence.get("reachable", False),
        "facts": evidence.get("facts", {}),
        "pods": evidence.get("pods", []),
        "nodes": evidence.get("nodes", []),
        "run_events": evidence.get("run_events", []),
        "namespace_warnings": evidence.get("namespace_warnings", []),
        "logs": evidence.get("logs", runner.get("logs", ""))[-2000:],
        "previous_logs": evidence.get("previous_logs", "")[-2000:],
        "gaps": evidence.get("gaps", []) + ([evidence["error"]] if "error" in evidence else []),
        **history,
        "recent_changes": changes,
    }


def _scope(around: dict[str, Any]) -> Scope:
    """Fleet when two other clusters fail alike, cluster when other cases here fail, else the case."""
    if len(around["other_clusters"]) >= 2:
        return Scope.FLEET
    return Scope.CLUSTER if around["same_cluster_cases"] else Scope.CASE


def _verification_json(verification: Verification | None) -> dict[str, Any]:
    if verification is None:
        return {"done": False, "method": "disabled"}
    return {
        "done": verification.done,
        "reproduced": verification.reproduced,
        "method": verification.method,
        **verification.detail,
    }


def _json_line(obj: dict[str, Any]) -> str:
    return json.dumps(obj)


@contextlib.asynccontextmanager
async def analysis_worker(
    store: Store,
    box: SecretBox,
    sink: SignalSink | None = None,
    settings: AnalysisSettings | None = None,
    links: Links | None = None,
) -> AsyncIterator[AnalysisWorker]:
    """Start the worker for the block (``async with analysis_worker(store, box, sink): ...``)."""
    worker = AnalysisWorker(store, box, sink, settings=settings, links=links)
    task = asyncio.create_task(worker.run_forever(), name="analysis")
    try:
        yield worker
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
