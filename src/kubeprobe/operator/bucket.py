"""Token buckets, one per ProbeConfig and one global, so a failing fleet cannot flood the center.

The clock is injected (``time.monotonic`` by default) so tests drive virtual time.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """``rate`` tokens per second up to ``burst``; starts full."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"token bucket: rate={rate} must be > 0 and burst={burst} at least 1")
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens = burst
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def try_take(self, n: float = 1.0) -> bool:
        self._refill()
        if self._tokens >= n:
            self._tokens -= n
            return True
        return False

    def give_back(self, n: float = 1.0) -> None:
        """Return tokens taken for something that was not sent after all."""
        self._tokens = min(self.burst, self._tokens + n)

    def wait_time(self, n: float = 1.0) -> float:
        """Seconds until ``n`` tokens are there (0 if they are now)."""
        self._refill()
        return max(0.0, (n - self._tokens) / self.rate)


def take_both(local: TokenBucket, shared: TokenBucket) -> bool:
    """Take one token from the config's bucket and one from the global bucket, or neither."""
    if not local.try_take():
        return False
    if not shared.try_take():
        local.give_back()
        return False
    return True
