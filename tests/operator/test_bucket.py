"""Token buckets on virtual time: no sleeps."""

from __future__ import annotations

import pytest

from kubeprobe.operator.bucket import TokenBucket, take_both


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_rate() -> None:
    clock = Clock()
    b = TokenBucket(rate=2.0, burst=5, clock=clock)
    assert sum(b.try_take() for _ in range(10)) == 5
    assert b.wait_time() == pytest.approx(0.5)
    clock.now += 0.5
    assert b.try_take()
    assert not b.try_take()
    clock.now += 100  # refills only up to the burst
    assert sum(b.try_take() for _ in range(10)) == 5


def test_global_bucket_caps_the_fleet_and_gives_back() -> None:
    clock = Clock()
    shared = TokenBucket(rate=1.0, burst=3, clock=clock)
    locals_ = [TokenBucket(rate=10.0, burst=10, clock=clock) for _ in range(5)]
    taken = sum(take_both(b, shared) for b in locals_ for _ in range(10))
    assert taken == 3
    # a config refused by the global bucket got its own token back
    assert locals_[4].tokens == pytest.approx(10)


def test_bad_budget() -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(rate=0, burst=1)
