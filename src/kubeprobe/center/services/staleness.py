"""Silence is not health: every ``poll_seconds`` the binding and cluster watches are read from
the store (:mod:`kubeprobe.center.store.staleness`) and fed to the tracker
(:mod:`kubeprobe.alerting.staleness`); what turned stale opens (or joins) the staleness incident
of its cluster, what reports again resolves its part. Signals go through the incident service
like any other, so silences, routes and notifiers apply.

It runs on the HA leader only (see :mod:`kubeprobe.center.services.leases`). Each time it starts
(a replica became the leader) the tracker starts from what open staleness incidents hold, so what
resumed while another replica led is resolved, and what is still silent is not signalled again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from kubeprobe.alerting.signals import Signal
from kubeprobe.alerting.staleness import StalenessTracker
from kubeprobe.center.services.alerting import IncidentService
from kubeprobe.center.settings import StalenessSettings
from kubeprobe.center.store import staleness
from kubeprobe.center.store.common import utcnow
from kubeprobe.center.store.database import Store

log = logging.getLogger(__name__)


class StalenessService:
    def __init__(
        self,
        store: Store,
        incidents: IncidentService,
        settings: StalenessSettings | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.store = store
        self.incidents = incidents
        self.settings = settings or StalenessSettings()
        self.tracker = StalenessTracker(self.settings.intervals)
        self.clock = clock

    async def sweep(self) -> list[Signal]:
        """One look at every watch; the signals it produced (already observed)."""
        signals = self.tracker.update(await staleness.watches(self.store), self.clock())
        for signal in signals:
            log.warning(
                "staleness: %s/%s %s: %s", signal.cluster, signal.case, signal.outcome, signal.message
            )
            await self.incidents.observe(signal)
        return signals

    async def seed(self) -> None:
        """Start from what open staleness incidents hold."""
        self.tracker.stale = set()
        self.tracker.seed(await staleness.open_stale(self.store))

    async def run_forever(self) -> None:
        seeded = False
        while True:
            try:
                if not seeded:
                    await self.seed()
                    seeded = True
            except Exception:
                log.exception("reading open staleness incidents failed; retrying")
                await asyncio.sleep(self.settings.poll_seconds)
                continue
            try:
                await self.sweep()
            except Exception:  # the database may be away: keep watching
                log.exception("staleness sweep failed; retrying")
            await asyncio.sleep(self.settings.poll_seconds)
