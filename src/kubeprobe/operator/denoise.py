"""Raw probe results → a denoised state: healthy, degraded, failing or unknown.

Rules (all counted in runs, not seconds, so they scale with the interval):

- failure rule: ``failures`` failed runs among the last ``window`` runs → failing.
- recovery rule: once failing, ``successes`` consecutive successful runs → healthy again (and the
  window forgets the old failures, so one new blip does not flip straight back to failing).
- flap detection: ``flap_changes`` or more ok↔failed alternations inside the window → degraded
  (a flapping path is reported once as degraded instead of as a storm of changes).
- a failure below the failure rule → degraded; ``failures`` consecutive runs that could not be
  decided (``error``: the probe itself could not run) → unknown.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from typing import Literal

State = Literal["healthy", "degraded", "failing", "unknown"]
Outcome = Literal["ok", "failed", "error"]
STATES: tuple[State, ...] = ("healthy", "degraded", "failing", "unknown")


@dataclass(frozen=True)
class Rules:
    """The failure, recovery and flap rules of one ProbeConfig."""

    failures: int = 3
    window: int = 5
    successes: int = 2
    flap_changes: int = 4

    def __post_init__(self) -> None:
        if not 1 <= self.failures <= self.window:
            raise ValueError(f"failure rule: failures={self.failures} must be in 1..window={self.window}")
        if self.successes < 1:
            raise ValueError(f"recovery rule: successes={self.successes} must be at least 1")
        if self.flap_changes < 2:
            raise ValueError(f"flap_changes={self.flap_changes} must be at least 2")


@dataclass(frozen=True)
class Transition:
    previous: State
    state: State
    reason: str


class Denoiser:
    """Feeds on outcomes one at a time; :meth:`observe` returns a :class:`Transition` on a change."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.state: State = "unknown"
        self._window: deque[Outcome] = deque(maxlen=rules.window)
        self.consecutive_failures = 0
        self.consecutive_successes = 0
        self.consecutive_errors = 0
        self.runs = 0
        self.oks = 0
        self.decided = 0

    @property
    def success_ratio(self) -> float | None:
        """Successful / decided runs since the loop started (errors are not decided)."""
        return self.oks / self.decided if self.decided else None

    def _alternations(self) -> int:
        decided = [o for o in self._window if o != "error"]
        return sum(1 for a, b in itertools.pairwise(decided) if a != b)

    def observe(self, outcome: Outcome) -> Transition | None:
        self.runs += 1
        self._window.append(outcome)
        if outcome == "ok":
            self.oks += 1
            self.decided += 1
            self.consecutive_successes += 1
            self.consecutive_failures = self.consecutive_errors = 0
        elif outcome == "failed":
            self.decided += 1
            self.consecutive_failures += 1
            self.consecutive_successes = self.consecutive_errors = 0
        else:
            self.consecutive_errors += 1
        new, reason = self._next()
        if new == self.state:
            return None
        old, self.state = self.state, new
        return Transition(old, new, reason)

    def _next(self) -> tuple[State, str]:
        r = self.rules
        failed = sum(1 for o in self._window if o == "failed")
        if self.consecutive_errors >= r.failures:
            return "unknown", f"{self.consecutive_errors} runs in a row could not be decided"
        if self.state == "failing":
            if self.consecutive_successes >= r.successes:
                # Recovered: forget the failures that made it fail.
                self._window.clear()
                self._window.extend(["ok"] * min(self.consecutive_successes, r.window))
                return "healthy", f"{self.consecutive_successes} successful runs in a row"
            return "failing", f"{failed} of the last {len(self._window)} runs failed"
        if failed >= r.failures:
            return "failing", f"{failed} of the last {len(self._window)} runs failed"
        if self._alternations() >= r.flap_changes:
            return "degraded", f"flapping: {self._alternations()} ok/failed changes in the last runs"
        if failed:
            return "degraded", f"{failed} of the last {len(self._window)} runs failed"
        if self.consecutive_successes:
            return "healthy", "recent runs succeeded"
        return self.state, "no decided run yet"
