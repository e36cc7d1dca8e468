"""The center's background workers: the scheduler (periodic bindings → runs, skipping those a
maintenance window pauses), the watch manager (spec changes of watched objects → runs), the
dispatcher (pending runs → runners), the analysis worker (finished runs → cause, verification,
severity → signals), self-healing (self-heal verdicts → remediations by policy), the incident
service (signals → incidents → notifications, reminders) and the staleness watch (silent bindings
and clusters → staleness incidents), started with the app and stopped with it.

With a :class:`~kubeprobe.center.services.leases.LeaseKeeper` (an HA center) the scheduler, the
watch manager and the dispatcher work only on this replica's clusters, and the fleet-wide loops
(analysis, incident delivery and reminders, staleness, rollups and retention) run only on the
leader, moving when it dies (:class:`~kubeprobe.center.services.leases.Singletons`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from kubeprobe.cases.registry import builtin_registry
from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.services.alerting import IncidentService
from kubeprobe.center.services.analysis import AnalysisWorker
from kubeprobe.center.services.dispatcher import Dispatcher
from kubeprobe.center.services.leases import LeaseKeeper, Singletons
from kubeprobe.center.services.maintenance import maintain_forever
from kubeprobe.center.services.scheduler import Scheduler
from kubeprobe.center.services.self_healing import SelfHealing
from kubeprobe.center.services.staleness import StalenessService
from kubeprobe.center.services.watches import WatchManager
from kubeprobe.center.settings import (
    AnalysisSettings,
    DispatchSettings,
    Links,
    RemedySettings,
    RetentionSettings,
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
    keeper: LeaseKeeper | None = None,
    retention: RetentionSettings | None = None,
) -> AsyncIterator[Workers]:
    """The services of a dispatching center, each given its group of the settings. With ``keeper``
    the fleet-wide loops (and rollups and retention, given ``retention``) run on the leader only."""
    warm_tls()  # what the first client of a cluster without its own CA would load on the loop
    builtin = frozenset(t.name for t in builtin_registry().all())
    dispatcher = Dispatcher(
        store,
        box,
        report_base_url=dispatch.report_base_url,
        local=LocalRunner(builtin, concurrency=local_concurrency),
        runner_mode=dispatch.runner_mode,
        max_in_flight=dispatch.max_in_flight,
        ownership=keeper,
    )
    incidents = IncidentService(store, box)
    scheduler = Scheduler(
        store, on_run=dispatcher.wake, dispatcher=dispatcher, paused=incidents.paused_pairs, ownership=keeper
    )
    watches = WatchManager(store, box, on_run=dispatcher.wake, ownership=keeper)
    healing = SelfHealing(store, box, incidents, remedy, replica=keeper.replica if keeper else "center")
    analysis_worker = AnalysisWorker(
        store, box, healing, settings=analysis, links=links, replica=keeper.replica if keeper else None
    )
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(dispatcher.run_forever(), name="dispatcher"),
        asyncio.create_task(scheduler.run_forever(), name="scheduler"),
        asyncio.create_task(watches.run_forever(), name="watches"),
    ]
    silence = StalenessService(store, incidents, staleness)
    fleet_wide: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {
        "analysis": analysis_worker.run_forever,
        "incidents": lambda: incidents.run(stop),
    }
    if silence.settings.enabled:
        fleet_wide["staleness"] = silence.run_forever
    if retention is not None:
        fleet_wide["maintenance"] = lambda: maintain_forever(store, retention)
    if keeper is None:
        tasks += [asyncio.create_task(make(), name=name) for name, make in fleet_wide.items()]
    else:
        tasks.append(asyncio.create_task(Singletons(keeper, fleet_wide).run_forever(), name="singletons"))
    try:
        yield Workers(dispatcher, scheduler, watches, analysis_worker, incidents, healing)
    finally:
        stop.set()
        await healing.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await incidents.close()
