"""Spreading periodic starts over their interval so bindings that share it never fire together.

Bindings with the same interval are ranked by a stable hash of their key and given evenly spaced
phases (slot ``i`` of ``n`` starts at ``i * interval / n``); jitter moves a start only within its
own slot. Every replica that sees the same bindings computes the same plan, and the plan survives
restarts. With 1,000 bindings on a 60 s interval the starts are 60 ms apart.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


def stable_hash(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


@dataclass(frozen=True)
class Slot:
    """Where in its interval a binding starts: ``phase`` seconds after each multiple of ``interval``."""

    interval: float
    phase: float
    width: float

    def next_start(self, after: float, jitter: float = 0.0, rng: random.Random | None = None) -> float:
        """The first start strictly after ``after`` (epoch seconds), plus up to ``jitter`` inside the slot."""
        k = math.floor((after - self.phase) / self.interval) + 1
        base = k * self.interval + self.phase
        spread = min(max(jitter, 0.0), self.width)
        return base + ((rng or random).random() * spread if spread else 0.0)


def plan(keys_by_interval: Mapping[float, Iterable[str]]) -> dict[str, Slot]:
    """Slots for every binding key, per interval (seconds)."""
    slots: dict[str, Slot] = {}
    for interval, keys in keys_by_interval.items():
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        ordered = sorted(set(keys), key=lambda k: (stable_hash(k), k))
        width = interval / max(len(ordered), 1)
        for i, key in enumerate(ordered):
            slots[key] = Slot(interval, i * width, width)
    return slots
