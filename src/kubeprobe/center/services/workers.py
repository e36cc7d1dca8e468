"""The center's background workers: the scheduler (periodic bindings → runs, skipping those a
maintenance window pauses), the watch manager (spec changes of watched objects → runs), the
dispatcher (pending runs → runners), the analysis worker (finished runs → cause, verification,
severity → signals), self-healing (self-heal verdicts → remediations by policy), the incident
service (signals → incidents → notifications, reminders) and the staleness watch (silent bindings
and clusters → staleness incidents), started with the app and stopped with it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from kubeprobe.cases.registry import builtin_registry
from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.services.alerting import IncidentService
from kubeprobe.center.services.analysis import AnalysisWorker
from kubeprobe.center.services.dispatcher import Dispatcher
from kubeprobe.center.services.scheduler import Scheduler
from kubeprobe.center.services.self_healing import SelfHealing
from kubeprobe.center.services.staleness import StalenessService
from kubeprobe.center.services.watches import WatchManager
from kubeprobe.center.settings import (
    AnalysisSettings,
    DispatchSettings,
    Links,
    RemedySettings,
    StalenessSettings,
)
from kubeprobe.center.store.database import Store
from kubeprobe.kube.config import warm_tls
from kubeprobe.runners.local import LocalRunner


@dataclass(frozen=True)
class Workers:
    dispatcher: Dispatcher
    scheduler: Scheduler
    watches: WatchManager
    analysis: AnalysisWorker
    incidents: IncidentService
    healing: SelfHealing


@contextlib.asynccontextmanager
async def background_workers(
    store: Store,
    box: SecretBox,
    *,
    dispatch: DispatchSettings,
    analysis: AnalysisSettings | None = None,
    links: Links | None = None,
    staleness: StalenessSettings | None = None,
    remedy: RemedySettings | None = None,
    local_concurrency: int = 4,
) -> AsyncIterator[Workers]:
    """The services of a dispatching center, each given its group of the settings."""
    warm_tls()  # what the first client of a cluster without its own CA would load on the loop
    builtin = frozenset(t.name for t in builtin_registry().all())
    dispatcher = Dispatcher(
        store,
        box,
        report_base_url=dispatch.report_base_url,
        local=LocalRunner(builtin, concurrency=local_concurrency),
        runner_mode=dispatch.runner_mode,
        max_in_flight=dispatch.max_in_flight,
    )
    incidents = IncidentService(store, box)
    scheduler = Scheduler(store, on_run=dispatcher.wake, dispatcher=dispatcher, paused=incidents.paused_pairs)
    watches = WatchManager(store, box, on_run=dispatcher.wake)
    healing = SelfHealing(store, box, incidents, remedy)
    analysis_worker = AnalysisWorker(store, box, healing, settings=analysis, links=links)
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(dispatcher.run_forever(), name="dispatcher"),
        asyncio.create_task(scheduler.run_forever(), name="scheduler"),
        asyncio.create_task(watches.run_forever(), name="watches"),
        asyncio.create_task(analysis_worker.run_forever(), name="analysis"),
        asyncio.create_task(incidents.run(stop), name="incidents"),
    ]
    silence = StalenessService(store, incidents, staleness)
    if silence.settings.enabled:
        tasks.append(asyncio.create_task(silence.run_forever(), name="staleness"))
    try:
        yield Workers(dispatcher, scheduler, watches, analysis_worker, incidents, healing)
    finally:
        stop.set()
        await healing.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await incidents.close()
