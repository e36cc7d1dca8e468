"""Polling with a deadline: the one way we wait for a cluster to reach a state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(TimeoutError):
    """The condition did not hold before the deadline; ``last`` is the last value seen."""

    def __init__(self, what: str, timeout: float, last: object) -> None:
        super().__init__(f"{what}: not reached after {timeout:.1f}s (last seen: {last!r})")
        self.last = last


async def wait_for(
    probe: Callable[[], Awaitable[T]],
    until: Callable[[T], bool],
    *,
    timeout: float,
    interval: float = 0.2,
    what: str = "condition",
) -> T:
    """Call ``probe`` every ``interval`` until ``until(result)``; return that result."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = await probe()
        if until(last):
            return last
        if time.monotonic() >= deadline:
            raise WaitTimeout(what, timeout, last)
        await asyncio.sleep(interval)
