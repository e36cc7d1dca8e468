"""The heartbeat to an external dead man's switch: it beats every interval while the center is
healthy, and stops when the center stops or turns unhealthy, which is what the switch notices."""

from __future__ import annotations

import asyncio
import time

from kubeprobe.alerting.heartbeat import Heartbeat, HeartbeatSettings
from kubeprobe.kube.waiting import wait_for

from .receivers import Receivers

INTERVAL = 0.2


class Switch:
    """A dead man's switch watching the receiver: fires when no beat came for two intervals."""

    def __init__(self, receivers: Receivers) -> None:
        self.receivers = receivers
        self.count = 0
        self.last = time.monotonic()

    async def fired(self) -> bool:
        n = len(self.receivers.on("/heartbeat"))
        now = time.monotonic()
        if n != self.count:
            self.count, self.last = n, now
        return now - self.last > 2 * INTERVAL


async def test_beats_while_healthy_and_the_switch_fires_when_it_stops(receivers: Receivers) -> None:
    healthy = True

    async def check() -> bool:
        return healthy

    settings = HeartbeatSettings(url=f"{receivers.url}/heartbeat", interval_s=INTERVAL, token="hb-secret")
    stop = asyncio.Event()
    task = asyncio.create_task(Heartbeat(settings, "replica-a", check).run(stop))
    switch = Switch(receivers)
    await wait_for(lambda: _count(receivers), lambda n: n >= 3, timeout=10, what="three beats")
    assert not await switch.fired()
    first = receivers.on("/heartbeat")[0]
    assert first.body["source"] == "kubeprobe"
    assert first.body["status"] == "alive"
    assert first.body["replica"] == "replica-a"
    assert first.headers["Authorization"] == "Bearer hb-secret"
    # Unhealthy (say the database is gone): no beats, so the switch fires though the process lives.
    healthy = False
    await wait_for(switch.fired, bool, timeout=10, what="the switch fires while unhealthy")
    healthy = True
    await wait_for(switch.fired, lambda fired: not fired, timeout=10, what="beats again")
    # The center stops: the beats stop for good.
    stop.set()
    await asyncio.wait_for(task, 5)
    await wait_for(switch.fired, bool, timeout=10, what="the switch fires after the center stopped")
    assert len(receivers.on("/heartbeat")) == switch.count


async def test_a_receiver_failure_is_retried_next_interval(receivers: Receivers) -> None:
    async def ok() -> bool:
        return True

    receivers.fail.append(503)
    beat = Heartbeat(HeartbeatSettings(url=f"{receivers.url}/heartbeat", interval_s=0.1), "r", ok)
    stop = asyncio.Event()
    task = asyncio.create_task(beat.run(stop))
    await wait_for(lambda: _beats(beat), lambda n: n >= 2, timeout=10, what="beats after a failure")
    stop.set()
    await task
    assert beat.failures == 1


async def _count(receivers: Receivers) -> int:
    return len(receivers.on("/heartbeat"))


async def _beats(beat: Heartbeat) -> int:
    return beat.beats
