"""Faults injected into the sandbox while the pod probe runs: the analysis names the cause, and
the incident service turns it into an incident (or not).

Each test runs the built-in ``pod-lifecycle`` probe against the sandbox while a fault is on,
records the run in a center store as the dispatcher would, and lets the analysis worker analyse
it: real evidence from the cluster, the real diagnosis, and a real verification re-run. Its
signals go to the real IncidentService, which notifies a local webhook receiver. A failure whose
re-run passes (the fault is gone) is a flake and is not escalated; a silence mutes; a maintenance
window pauses the scheduler's runs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from kubeprobe.alerting.signals import Outcome, Signal
from kubeprobe.cases.execute import execute
from kubeprobe.cases.registry import builtin_registry
from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.schemas.alerting import ReceiverIn, RouteIn
from kubeprobe.center.schemas.silences import SilenceIn
from kubeprobe.center.services.alerting import IncidentService
from kubeprobe.center.services.analysis import AnalysisWorker
from kubeprobe.center.services.scheduler import Scheduler
from kubeprobe.center.settings import AnalysisSettings
from kubeprobe.center.store import analysis as store_analysis
from kubeprobe.center.store import routing
from kubeprobe.center.store import silences as silence_store
from kubeprobe.center.store.common import utcnow
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.tables import Binding, Case, CaseTemplate, Cluster, Run
from kubeprobe.center.store.tables.alerting import IncidentRow
from kubeprobe.kube.client import KubeClient
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults
from tests.alerting.receivers import Receivers
from tests.center.conftest import ADMIN

NS = "kubeprobe-system"  # where the built-in probes create their objects


class Sink:
    """Keeps every signal for the assertions and hands it on to the real incident service."""

    def __init__(self, incidents: IncidentService) -> None:
        self.signals: list[Signal] = []
        self.incidents = incidents

    async def observe(self, signal: Signal) -> None:
        self.signals.append(signal)
        await self.incidents.observe(signal)


@dataclass
class Center:
    store: Store
    box: SecretBox
    cluster_id: int
    case_id: int
    sink: Sink
    worker: AnalysisWorker
    hook: Receivers

    async def incidents(self) -> list[IncidentRow]:
        async with self.store.transaction() as s:
            return list((await s.scalars(select(IncidentRow).order_by(IncidentRow.id))).all())

    async def notified(self) -> list[dict[str, Any]]:
        """Send what is due and return every notification the webhook received so far."""
        await self.sink.incidents.deliver_due()
        return [r.body for r in self.hook.on("/hook")]


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One trained classifier for the module's tests (training takes seconds)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture
async def center(sandbox: Sandbox, tmp_path: Path, model_cache: Path) -> AsyncIterator[Center]:
    """A SQLite center store with the sandbox registered and the pod-lifecycle case."""
    store = Store.connect(f"sqlite+aiosqlite:///{tmp_path / 'center.db'}")
    await store.migrate()
    box = SecretBox(Fernet.generate_key())
    now = utcnow()
    async with store.transaction() as s:
        cluster = Cluster(
            name="sandbox",
            labels={"env": "test"},
            context="",
            server=sandbox.server,
            credentials=box.encrypt(sandbox.kubeconfig.read_text()),
            created=now,
            updated=now,
        )
        template = CaseTemplate(
            name="pod-lifecycle", kind="probe", timeout_seconds=300, created=now, builtin=True
        )
        s.add_all([cluster, template])
        await s.flush()
        case = Case(name="pod", template_id=template.id, params={"scheduled_seconds": 18}, created=now)
        s.add(case)
        await s.flush()
        ids = cluster.id, case.id
    hook = Receivers()
    await hook.start()
    async with store.transaction() as s:
        receiver = ReceiverIn(name="hook", kind="webhook", secrets={"url": f"{hook.url}/hook"})
        await routing.put_receiver(s, box, receiver, ADMIN, create=True)
        route = RouteIn(name="all", receivers=["hook"], is_default=True)
        await routing.put_route(s, route, ADMIN, create=True)
    sink = Sink(IncidentService(store, box))
    settings = AnalysisSettings(model_cache=model_cache, rerun_timeout_seconds=60)
    worker = AnalysisWorker(store, box, sink, settings=settings)
    yield Center(store, box, *ids, sink, worker, hook)
    await sink.incidents.close()
    await hook.stop()
    await store.close()


async def probe_and_record(center: Center, kube: KubeClient, params: dict[str, Any]) -> str:
    """Run the probe now and store its run as finished, like the dispatcher after a report."""
    run_id = uuid.uuid4().hex
    started = utcnow()
    outcome = await execute(
        builtin_registry().get("pod-lifecycle"),
        params,
        kube,
        run_id=run_id,
        cluster="sandbox",
        case="pod",
        deadline=started + dt.timedelta(seconds=60),
    )
    body = outcome.body
    async with center.store.transaction() as s:
        s.add(
            Run(
                id=run_id,
                case_id=center.case_id,
                cluster_id=center.cluster_id,
                trigger="interval",
                state=outcome.state,
                created=started,
                deadline=started + dt.timedelta(seconds=60),
                started=started,
                finished=utcnow(),
                messages=list(body["messages"]),
                metrics={},
                details={},
                steps=list(body["steps"]),
            )
        )
    return run_id


async def analysed(center: Center, run_id: str) -> tuple[Signal, dict[str, Any]]:
    assert run_id in await center.worker.analyse_pending()
    signal = next(s for s in center.sink.signals if s.run_id == run_id)
    async with center.store.transaction() as s:
        stored = await store_analysis.get_analysis(s, run_id)
    assert stored["cause"] == signal.cause
    return signal, stored


async def update_case(center: Center, params: dict[str, Any]) -> None:
    async with center.store.transaction() as s:
        case = await s.get_one(Case, center.case_id)
        case.params = params


async def test_paused_scheduler_is_scheduler_down(center: Center, sandbox: Sandbox, kube: KubeClient) -> None:
    faults = Faults(sandbox)
    async with faults.paused("kube-scheduler"):
        run_id = await probe_and_record(center, kube, {"scheduled_seconds": 18})
        signal, stored = await analysed(center, run_id)
    assert (signal.outcome, signal.cause) == (Outcome.FAILED, "scheduling.scheduler_down"), stored
    assert signal.confidence >= 0.9
    assert "kube-scheduler" in stored["evidence"]["facts"]["stale_leases"]
    # The scheduler found down is the proof: no re-run that could only wait out its deadline.
    verification = stored["verification"]
    assert verification["reproduced"] is True, verification
    assert verification["method"] in {"evidence", "requery"}, verification
    assert "rerun" not in verification, verification
    (incident,) = await center.incidents()
    assert (incident.state, incident.cause, incident.cluster) == (
        "firing",
        "scheduling.scheduler_down",
        "sandbox",
    )
    (message,) = await center.notified()
    text = str(message)
    for word in ("scheduling.scheduler_down", "sandbox", run_id):
        assert word in text, message


async def test_scheduler_failure_that_does_not_reproduce_is_a_flake(
    center: Center, sandbox: Sandbox, kube: KubeClient
) -> None:
    faults = Faults(sandbox)
    async with faults.paused("kube-scheduler"):
        run_id = await probe_and_record(center, kube, {"scheduled_seconds": 18})
    signal, stored = await analysed(center, run_id)  # the scheduler is back: the re-run passes
    assert signal.outcome is Outcome.FLAKE, stored
    assert stored["outcome"] == "flake"
    assert await center.incidents() == [], "a flake is recorded, never escalated"
    assert await center.notified() == []
    assert stored["verification"] | {"requery": None} == {
        "done": True,
        "reproduced": False,
        "method": "requery+rerun",
        "requery": None,
        "rerun": {"state": "succeeded", "messages": []},
    }


async def test_failing_webhook_is_webhook_failure(center: Center, sandbox: Sandbox, kube: KubeClient) -> None:
    faults = Faults(sandbox)
    await faults.failing_webhook(namespace=NS, timeout_seconds=2)
    try:
        run_id = await probe_and_record(center, kube, {"scheduled_seconds": 18})
        signal, stored = await analysed(center, run_id)
    finally:
        await faults.remove_failing_webhook()
    assert (signal.outcome, signal.cause, signal.step) == (
        Outcome.FAILED,
        "admission.webhook_failure",
        "create",
    ), stored


async def test_exhausted_quota_is_quota_exceeded(center: Center, sandbox: Sandbox, kube: KubeClient) -> None:
    faults = Faults(sandbox)
    await faults.exhaust_quota(NS)
    try:
        run_id = await probe_and_record(center, kube, {"scheduled_seconds": 18})
        signal, stored = await analysed(center, run_id)
    finally:
        await faults.restore_quota(NS)
    assert (signal.outcome, signal.cause, signal.step) == (
        Outcome.FAILED,
        "admission.quota_exceeded",
        "create",
    ), stored


async def test_not_ready_node_is_node_not_ready(
    center: Center, sandbox: Sandbox, kube: KubeClient, add_nodes: Any
) -> None:
    faults = Faults(sandbox)
    (node,) = await add_nodes(1, {"kubeprobe.io/test-node": "rca"})
    params = {"scheduled_seconds": 18, "node_selector": {"kubeprobe.io/test-node": "rca"}}
    await update_case(center, params)
    await faults.node_not_ready(node)
    try:
        run_id = await probe_and_record(center, kube, params)
        signal, stored = await analysed(center, run_id)
    finally:
        await faults.node_ready(node)
    assert (signal.outcome, signal.cause) == (Outcome.FAILED, "node.not_ready"), (signal.message, stored)
    assert node in stored["evidence"]["facts"]["not_ready_nodes"]


async def test_paused_etcd_is_etcd_unavailable(center: Center, sandbox: Sandbox, kube: KubeClient) -> None:
    faults = Faults(sandbox)
    async with faults.paused("etcd"):
        run_id = await probe_and_record(center, kube, {"scheduled_seconds": 18})
        signal, stored = await analysed(center, run_id)
    assert signal.outcome is Outcome.FAILED, stored
    assert signal.cause == "etcd.unavailable", (signal.message, stored["evidence"], stored["verification"])
    assert stored["evidence"]["facts"].get("etcd_healthy") is False


async def test_a_silence_mutes_the_incident(center: Center, sandbox: Sandbox, kube: KubeClient) -> None:
    async with center.store.transaction() as s:
        await silence_store.create_silence(
            s,
            SilenceIn(matchers=["cluster=sandbox"], ends=utcnow() + dt.timedelta(hours=1), comment="test"),
            ADMIN,
        )
    faults = Faults(sandbox)
    await faults.exhaust_quota(NS)
    try:
        run_id = await probe_and_record(center, kube, {"scheduled_seconds": 18})
        signal, _ = await analysed(center, run_id)
    finally:
        await faults.restore_quota(NS)
    assert (signal.outcome, signal.cause) == (Outcome.FAILED, "admission.quota_exceeded")
    (incident,) = await center.incidents()
    assert incident.cause == "admission.quota_exceeded"
    assert incident.muted_by is not None, "recorded, but muted by the silence"
    assert await center.notified() == []


async def test_a_maintenance_window_pauses_scheduled_runs(center: Center) -> None:
    async with center.store.transaction() as s:
        s.add(
            Binding(
                name="pod-every-second",
                case_id=center.case_id,
                cluster_id=center.cluster_id,
                interval_seconds=1.0,
                created=utcnow(),
            )
        )
        window = SilenceIn(
            matchers=["cluster=sandbox", "case=pod"], mode="pause", ends=utcnow() + dt.timedelta(hours=1)
        )
        silence = await silence_store.create_silence(s, window, ADMIN)

    async def runs_after(seconds: float) -> tuple[int, Scheduler]:
        scheduler = Scheduler(center.store, paused=IncidentService(center.store, center.box).paused_pairs)
        task = asyncio.create_task(scheduler.run_forever())
        await asyncio.sleep(seconds)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        async with center.store.transaction() as s:
            count = await s.scalar(select(func.count()).select_from(Run).where(Run.trigger == "schedule"))
        return count or 0, scheduler

    count, scheduler = await runs_after(3.5)
    assert count == 0
    assert scheduler.skipped_paused >= 2
    async with center.store.transaction() as s:
        await silence_store.delete_silence(s, silence.id, ADMIN)
    count, scheduler = await runs_after(3.5)
    assert count >= 1  # one pending run: with no dispatcher, "forbid" holds the rest back
    assert scheduler.skipped_paused == 0
