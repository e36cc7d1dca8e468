"""Background work of a running center: hourly and daily rollups and retention, every few minutes."""

from __future__ import annotations

import asyncio
import logging

from kubeprobe.center.errors import CenterError
from kubeprobe.center.settings import RetentionSettings
from kubeprobe.center.store.common import utcnow
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.rollups import apply_retention, roll_up

log = logging.getLogger(__name__)


async def maintain_once(store: Store, retention: RetentionSettings) -> tuple[int, int, int]:
    """Roll up finished hours and days, then drop what is past retention: (hours, runs deleted,
    hourly and daily rollups deleted)."""
    now = utcnow()
    async with store.transaction() as session:
        hours = await roll_up(session, now)
    async with store.transaction() as session:
        runs, rollups = await apply_retention(
            session, now, raw_days=retention.raw_days, rollup_days=retention.rollup_days
        )
    return hours, runs, rollups


async def maintain_forever(store: Store, retention: RetentionSettings) -> None:
    while True:
        try:
            hours, runs, rollups = await maintain_once(store, retention)
            if hours or runs or rollups:
                log.info(
                    "maintenance: rolled up %d hours, deleted %d runs and %d rollups", hours, runs, rollups
                )
        except CenterError as exc:
            log.warning("maintenance skipped: %s", exc)
        await asyncio.sleep(retention.interval_seconds)
