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

from collections import deque
from dataclasses import dataclass
from typing import Literal

State = Literal["healthy", "degraded", "failing", "unknown"]
Outcome = Literal["ok", "failed", "error"]
STATES: tuple[State, ...] = ("healthy", "degraded", "failing", "unknown")


@dataclass(frozen=True)
class Rules:
    """The failure, recovery and flap rules of one ProbeConfig."""

    failures: int = 2
    window: int = 3
    successes: int = 2
    flap_changes: int = 4  # needs a window of more than 4 runs to show

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
    """Feeds on outcomes one at a time; :meth:`observe` returns a :class:`Transition` on a change.

    Constant work per outcome whatever the window (up to 1000 runs): the window's failure count and
    its ok/failed alternations are kept up to date as outcomes enter and leave it, and a reason text
    is built only when the state changes.
    """

    __slots__ = (
        "_alternations",
        "_decided",
        "_failed",
        "_window",
        "consecutive_errors",
        "consecutive_failures",
        "consecutive_successes",
        "decided",
        "oks",
        "rules",
        "runs",
        "state",
    )

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.state: State = "unknown"
        self._window: deque[Outcome] = deque()  # the last ``rules.window`` outcomes
        self._decided: deque[Outcome] = deque()  # the ok/failed ones among them, in order
        self._failed = 0  # failed outcomes in the window
        self._alternations = 0  # ok↔failed changes along ``_decided``
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

    def _push(self, outcome: Outcome) -> None:
        window, decided = self._window, self._decided
        if len(window) == self.rules.window:
            gone = window.popleft()
            if gone != "error":
                decided.popleft()
                if gone == "failed":
                    self._failed -= 1
                if decided and decided[0] != gone:
                    self._alternations -= 1
        window.append(outcome)
        if outcome != "error":
            if decided and decided[-1] != outcome:
                self._alternations += 1
            decided.append(outcome)
            if outcome == "failed":
                self._failed += 1

    def _forget(self, oks: int) -> None:
        """Recovered: the window holds only the ``oks`` latest successes."""
        self._window.clear()
        self._decided.clear()
        self._failed = self._alternations = 0
        for _ in range(min(oks, self.rules.window)):
            self._push("ok")

    def observe(self, outcome: Outcome) -> Transition | None:
        self.runs += 1
        self._push(outcome)
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
        new = self._next()
        if new == self.state:
            return None
        old, self.state = self.state, new
        return Transition(old, new, self._reason(old, new))

    def _next(self) -> State:
        r = self.rules
        if self.consecutive_errors >= r.failures:
            return "unknown"
        if self.state == "failing":
            if self.consecutive_successes >= r.successes:
                self._forget(self.consecutive_successes)  # forget the failures that made it fail
                return "healthy"
            return "failing"
        if self._failed >= r.failures:
            return "failing"
        if self._alternations >= r.flap_changes or self._failed:
            return "degraded"
        if self.consecutive_successes:
            return "healthy"
        return self.state

    def _reason(self, old: State, state: State) -> str:
        if state == "unknown":
            return f"{self.consecutive_errors} runs in a row could not be decided"
        if state == "healthy":
            if old == "failing":
                return f"{self.consecutive_successes} successful runs in a row"
            return "recent runs succeeded"
        if state == "degraded" and self._alternations >= self.rules.flap_changes:
            return f"flapping: {self._alternations} ok/failed changes in the last runs"
        return f"{self._failed} of the last {len(self._window)} runs failed"
