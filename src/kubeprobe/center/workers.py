"""The center's background workers: the scheduler (periodic bindings → runs) and the dispatcher
(pending runs → runners), started with the app and stopped with it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from kubeprobe.cases.registry import builtin_registry
from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.dispatch import Dispatcher
from kubeprobe.center.scheduling import Scheduler
from kubeprobe.center.store.database import Store
from kubeprobe.runners.local import LocalRunner


@dataclass(frozen=True)
class Workers:
    dispatcher: Dispatcher
    scheduler: Scheduler


@contextlib.asynccontextmanager
async def background_workers(
    store: Store,
    box: SecretBox,
    *,
    public_url: str,
    runner_mode: str = "auto",
    max_in_flight: int = 16,
    local_concurrency: int = 4,
) -> AsyncIterator[Workers]:
    builtin = frozenset(t.name for t in builtin_registry().all())
    dispatcher = Dispatcher(
        store,
        box,
        report_base_url=public_url,
        local=LocalRunner(builtin, concurrency=local_concurrency),
        runner_mode=runner_mode,
        max_in_flight=max_in_flight,
    )
    scheduler = Scheduler(store, on_run=dispatcher.wake)
    tasks = [
        asyncio.create_task(dispatcher.run_forever(), name="dispatcher"),
        asyncio.create_task(scheduler.run_forever(), name="scheduler"),
    ]
    try:
        yield Workers(dispatcher, scheduler)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
