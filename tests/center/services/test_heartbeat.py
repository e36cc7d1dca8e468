"""The center starts the heartbeat: a real receiver (the dead man's switch's side) gets a beat every
interval while the center runs, and no more once it stops."""

from __future__ import annotations

import time

from kubeprobe.center.app import create_app
from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.settings import CenterSettings, HeartbeatCenterSettings
from kubeprobe.center.store.database import Store
from kubeprobe.kube.waiting import wait_for
from tests.alerting.receivers import Receivers

INTERVAL = 0.2


async def test_the_switch_sees_the_beats_stop_when_the_center_stops(
    store: Store, box: SecretBox, settings: CenterSettings
) -> None:
    receivers = Receivers()  # the receivers of tests/alerting, started here: no fixture of theirs
    await receivers.start()
    try:
        await _beats_then_silence(receivers, store, box, settings)
    finally:
        await receivers.stop()


async def _beats_then_silence(
    receivers: Receivers, store: Store, box: SecretBox, settings: CenterSettings
) -> None:
    beat = HeartbeatCenterSettings(url=f"{receivers.url}/heartbeat", interval_seconds=INTERVAL, token="hb")
    app = create_app(settings.model_copy(update={"heartbeat": beat}), store=store, box=box, builtin=[])

    async def beats() -> int:
        return len(receivers.on("/heartbeat"))

    async with app.router.lifespan_context(app):
        await wait_for(beats, lambda n: n >= 3, timeout=10, what="three beats from the running center")
        first = receivers.on("/heartbeat")[0]
        assert first.body["status"] == "alive"
        assert first.headers["Authorization"] == "Bearer hb"
    stopped_with = await beats()
    last_change = time.monotonic()

    async def silent() -> bool:  # the switch's rule: no beat for two intervals
        nonlocal stopped_with, last_change
        if (n := await beats()) != stopped_with:
            stopped_with, last_change = n, time.monotonic()
        return time.monotonic() - last_change > 3 * INTERVAL

    await wait_for(silent, bool, timeout=10, what="the beats stop with the center")
    assert len(receivers.on("/heartbeat")) == stopped_with
