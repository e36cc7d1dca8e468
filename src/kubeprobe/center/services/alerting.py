"""The incident service: what the analysis worker hands signals to, and the loop that delivers
notifications (with retries and back-off from the durable queue) and sends reminders.

Start it next to the other workers:

    service = IncidentService(store, box)
    task = asyncio.create_task(service.run(stop))     # stop: an asyncio.Event set on shutdown
    ... analysis worker: await service.observe(signal)
    ... scheduler, before periodic firings: paused = await service.paused_pairs({(cluster_id, case_id)})
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from kubeprobe.alerting import incidents as lifecycle
from kubeprobe.alerting.incidents import AlertingPolicy
from kubeprobe.alerting.messages import Notification
from kubeprobe.alerting.notifiers import NotifierConfigError, NotifierError, build_notifier
from kubeprobe.alerting.signals import Outcome, Signal
from kubeprobe.alerting.silences import Silence, paused
from kubeprobe.analysis.causality import RECOVERY_S
from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.errors import CenterError, NotFoundError
from kubeprobe.center.store import incident_log, routing
from kubeprobe.center.store import silences as silence_store
from kubeprobe.center.store.common import utcnow
from kubeprobe.center.store.database import Store

log = logging.getLogger(__name__)

#: The scheduler asks before every batch of firings; windows are re-read at most this often.
WINDOWS_CACHE_S = 5.0


@dataclass(frozen=True)
class DeliveryPolicy:
    """Retries of a failing notifier: back-off doubles from `base_s` up to `max_s`, `max_attempts` in all."""

    base_s: float = 5.0
    max_s: float = 600.0
    max_attempts: int = 12
    lease_s: float = 120.0  # a claimed delivery is retried after this if its sender died
    batch: int = 50
    poll_s: float = 5.0  # how often the loop looks for due deliveries and reminders

    def backoff(self, attempts: int) -> float:
        return float(min(self.max_s, self.base_s * 2 ** max(0, attempts - 1)))


class IncidentService:
    def __init__(
        self,
        store: Store,
        box: SecretBox,
        *,
        policy: AlertingPolicy | None = None,
        delivery: DeliveryPolicy | None = None,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.store, self.box = store, box
        self.policy = policy or AlertingPolicy()
        self.delivery = delivery or DeliveryPolicy()
        self.clock = clock
        self._client = client
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._windows: tuple[dt.datetime, list[Silence]] | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=15.0)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def observe(self, signal: Signal) -> int | None:
        """Record a signal and apply what it means for incidents; deliveries are queued with it.
        Returns the id of the incident the signal went to (None: it went to none)."""
        if signal.at.tzinfo is None:
            raise ValueError("Signal.at must be timezone-aware (UTC)")
        async with self._lock, self.store.transaction() as session:
            await incident_log.lock(session)
            incidents, rows = await incident_log.open_incidents(session, signal)
            resolved = (
                await incident_log.resolved_since(
                    session, signal.cluster, signal.since - dt.timedelta(seconds=RECOVERY_S)
                )
                if signal.outcome is Outcome.FAILED
                else []
            )
            silences = await silence_store.current_silences(session, signal.at)
            decision = lifecycle.observe(signal, incidents, silences, self.policy, resolved)
            routes = await routing.route_table(session)
            await incident_log.apply(session, decision, rows, routes, self.clock())
            target = next(
                (i for i in decision.changed if i.scope != "fleet" and i.member(signal.cluster, signal.case)),
                None,
            )
            incident_log.record_signal(session, signal, target.id if target else None, decision.note)
        if decision.notices:
            self._wake.set()
        log.info(
            "signal %s %s/%s run %s cause %s: %d incident(s) changed, %d notice(s)",
            signal.outcome, signal.cluster, signal.case, signal.run_id, signal.cause,
            len(decision.changed), len(decision.notices),
        )  # fmt: skip
        return target.id if target else None

    async def run_paused(self, cluster: str, case: str, labels: dict[str, str]) -> bool:
        """Whether a maintenance window (a silence in pause mode) stops this case on this cluster now."""
        now = self.clock()
        async with self.store.transaction() as session:
            silences = await silence_store.current_silences(session, now)
        return paused(silences, {**labels, "cluster": cluster, "case": case}, now) is not None

    async def paused_pairs(self, pairs: set[tuple[int, int]]) -> set[tuple[int, int]]:
        """Of these (cluster id, case id) pairs, the ones a maintenance window pauses now. One query
        for the windows; names and labels are read only when a pause-mode window is in force."""
        now = self.clock()
        if not pairs:
            return set()
        if self._windows is None or (now - self._windows[0]).total_seconds() > WINDOWS_CACHE_S:
            async with self.store.transaction() as session:
                found = await silence_store.current_silences(session, now)
            self._windows = (now, [s for s in found if s.mode == "pause"])
        windows = self._windows[1]
        if not windows:
            return set()
        async with self.store.transaction() as session:
            clusters, cases = await silence_store.pair_labels(session, pairs)
        out: set[tuple[int, int]] = set()
        for cluster_id, case_id in pairs:
            if cluster_id not in clusters or case_id not in cases:
                continue
            name, labels = clusters[cluster_id]
            if paused(windows, {**labels, "cluster": name, "case": cases[case_id]}, now) is not None:
                out.add((cluster_id, case_id))
        return out

    async def remind(self) -> int:
        """Queue reminders that are due (and announce muted incidents whose silence ended)."""
        now = self.clock()
        async with self._lock, self.store.transaction() as session:
            await incident_log.lock(session)
            incidents, rows = await incident_log.open_incidents(session)
            silences = await silence_store.current_silences(session, now)
            decision = lifecycle.tick(incidents, silences, now, self.policy)
            if decision.changed:
                await incident_log.apply(session, decision, rows, await routing.route_table(session), now)
        return len(decision.notices)

    async def deliver_due(self) -> int:
        """Send each due delivery once; failures are rescheduled with back-off. Returns how many went."""
        now = self.clock()
        async with self.store.transaction() as session:
            claimed = await incident_log.claim_deliveries(
                session, now, self.delivery.lease_s, self.delivery.batch
            )
            jobs = [(d.id, d.receiver, d.attempts, dict(d.payload)) for d in claimed]
        sent = 0
        configs: dict[str, tuple[str, dict[str, Any], dict[str, str]] | CenterError] = {}
        for delivery_id, receiver, attempts, payload in jobs:
            error, retry = await self._send(receiver, payload, configs)
            done = self.clock()
            retry_at = None
            if error is not None and retry and attempts < self.delivery.max_attempts:
                retry_at = done + dt.timedelta(seconds=self.delivery.backoff(attempts))
            if error is not None:
                log.warning(
                    "delivery %d to %s failed (attempt %d): %s", delivery_id, receiver, attempts, error
                )
            async with self.store.transaction() as session:
                await incident_log.finish_delivery(
                    session, delivery_id, error=error, retry_at=retry_at, now=done
                )
                await routing.note_delivery(session, receiver, error[:2000] if error else None)
            sent += error is None
        return sent

    async def _send(
        self,
        receiver: str,
        payload: dict[str, Any],
        configs: dict[str, tuple[str, dict[str, Any], dict[str, str]] | CenterError],
    ) -> tuple[str | None, bool]:
        """Send one notification; `configs` caches receivers (or why they failed) for one batch."""
        try:
            if receiver not in configs:
                try:
                    async with self.store.transaction() as session:
                        configs[receiver] = await routing.receiver_config(session, self.box, receiver)
                except CenterError as exc:
                    configs[receiver] = exc
            config = configs[receiver]
            if isinstance(config, CenterError):
                raise config
            kind, settings, secrets = config
            notifier = build_notifier(kind, settings, secrets, self.client)
            await notifier.send(Notification.from_json(payload))
        except NotifierError as exc:
            return str(exc), exc.retryable
        except NotifierConfigError as exc:
            return f"receiver {receiver!r} is misconfigured: {exc}", False
        except CenterError as exc:
            return exc.message, not isinstance(exc, NotFoundError)
        except Exception as exc:  # a notifier bug must not stop every other delivery
            log.exception("notifier for receiver %s failed unexpectedly", receiver)
            return f"unexpected {type(exc).__name__}: {exc}", False
        return None, False

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver and remind until `stop` is set; errors are logged and the loop goes on."""
        try:
            while not stop.is_set():
                try:
                    await self.remind()
                    while await self._drain():
                        pass
                except CenterError as exc:
                    log.warning("alerting loop: %s", exc.message)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
                    try:
                        await asyncio.wait(
                            waits, timeout=self.delivery.poll_s, return_when=asyncio.FIRST_COMPLETED
                        )
                    finally:
                        for w in waits:
                            w.cancel()
        finally:
            await self.close()

    async def _drain(self) -> bool:
        """One batch; True when a full batch was due (so there may be more right away)."""
        now = self.clock()
        async with self.store.transaction() as session:
            due = await incident_log.count_due(session, now)
        if not due:
            return False
        await self.deliver_due()
        return due > self.delivery.batch
