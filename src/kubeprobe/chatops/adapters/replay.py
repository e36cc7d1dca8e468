"""Replay protection shared by the adapters: keys (signatures, event ids, trigger ids) seen recently."""

from __future__ import annotations

import time
from collections import OrderedDict


class Seen:
    """Keys seen in the last ``window`` seconds (replays and retries)."""

    def __init__(self, window: float = 600.0, limit: int = 100_000) -> None:
        self.window = window
        self.limit = limit
        self._keys: OrderedDict[str, float] = OrderedDict()

    def first(self, key: str, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        while self._keys and (
            next(iter(self._keys.values())) < now - self.window or len(self._keys) > self.limit
        ):
            self._keys.popitem(last=False)
        if key in self._keys:
            return False
        self._keys[key] = now
        return True
