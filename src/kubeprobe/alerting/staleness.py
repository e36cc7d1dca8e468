"""Silence is not health: what stopped reporting, turned into signals of its own.

A *watch* is something that should be heard from at a known interval: a binding on a cluster (its
runs), a cluster (any answer from it), a resident probe (its reports). It is stale when nothing
came for ``intervals`` (2) of its intervals since it was last heard from, or since it began to be
expected when it never was. Staleness is never read as a failed probe and never as health: it
opens its own incident, with cause ``staleness.<kind>`` (one per cluster and kind, each silent
binding or probe a member), and resolves when reports resume.

The tracker is pure: the center feeds it the watches it reads from the store and passes the
signals it returns to incident management. It emits a FAILED signal when a watch turns stale and
a PASSED signal of the same cause when it is heard from again, once each; seeded with the members
of open staleness incidents, a restarted center resolves what resumed while it was away.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from kubeprobe.alerting.signals import Outcome, Signal

Kind = Literal["binding", "cluster", "resident"]
KINDS: tuple[Kind, ...] = ("binding", "cluster", "resident")
#: (kind, cluster, subject)
StaleKey = tuple[Kind, str, str]
CAUSE_PREFIX = "staleness."
#: The member name of a cluster's own staleness (it has no case).
CLUSTER_SUBJECT = "(cluster)"


def stale_id(key: StaleKey) -> str:
    """The signal's run id of a watch: fixed length (a run id is at most 36 characters; a cluster
    name alone may be 63), the same for the same watch."""
    return "stale-" + hashlib.sha256("\0".join(key).encode()).hexdigest()[:30]


def cause_of(kind: Kind) -> str:
    return f"{CAUSE_PREFIX}{kind}"


def is_staleness(cause: str) -> bool:
    return cause.startswith(CAUSE_PREFIX)


@dataclass(frozen=True)
class Watch:
    """One thing that should report: ``subject`` is the case (binding, resident probe) or
    :data:`CLUSTER_SUBJECT`; ``since`` is when it began to be expected (binding or cluster made)."""

    kind: Kind
    cluster: str
    subject: str
    interval_s: float
    last_seen: dt.datetime | None
    since: dt.datetime
    cluster_labels: dict[str, str] = field(default_factory=dict)
    binding: str = ""  # the binding a binding watch comes from, for messages and metrics
    priority: str = "P2"

    @property
    def key(self) -> StaleKey:
        return (self.kind, self.cluster, self.subject)

    def age_s(self, now: dt.datetime) -> float:
        """Seconds since it was last heard from (or since it was expected, when never)."""
        return max(0.0, (now - (self.last_seen or self.since)).total_seconds())

    def stale(self, now: dt.datetime, intervals: float) -> bool:
        return self.age_s(now) > intervals * self.interval_s


class StalenessTracker:
    """Which watches are stale; each turns stale once and fresh once (see the module docstring)."""

    def __init__(self, intervals: float = 2.0) -> None:
        if intervals <= 0:
            raise ValueError("intervals must be > 0")
        self.intervals = intervals
        self.stale: set[StaleKey] = set()

    def seed(self, keys: Iterable[StaleKey]) -> None:
        """Mark as stale what open staleness incidents hold (kind, cluster, subject)."""
        self.stale.update(keys)

    def update(self, watches: Iterable[Watch], now: dt.datetime) -> list[Signal]:
        """The signals for the watches that turned stale or fresh since the last call. A watch
        that disappeared (its binding or cluster deleted) resolves too."""
        signals: list[Signal] = []
        seen: set[StaleKey] = set()
        for watch in watches:
            seen.add(watch.key)
            stale = watch.stale(now, self.intervals)
            if stale and watch.key not in self.stale:
                self.stale.add(watch.key)
                signals.append(_signal(watch, Outcome.FAILED, now, self.intervals))
            elif not stale and watch.key in self.stale:
                self.stale.discard(watch.key)
                signals.append(_signal(watch, Outcome.PASSED, now, self.intervals))
        for kind, cluster, subject in sorted(self.stale - seen):
            self.stale.discard((kind, cluster, subject))
            gone = Watch(kind, cluster, subject, 0.0, None, now)
            signals.append(_signal(gone, Outcome.PASSED, now, self.intervals))
        return signals


def _signal(watch: Watch, outcome: Outcome, now: dt.datetime, intervals: float) -> Signal:
    what = {
        "binding": f"no result of {watch.subject} on {watch.cluster}"
        + (f" (binding {watch.binding})" if watch.binding else ""),
        "cluster": f"no answer from cluster {watch.cluster}",
        "resident": f"no report of resident probe {watch.subject} on {watch.cluster}",
    }[watch.kind]
    if outcome is Outcome.FAILED:
        heard = f"last {watch.last_seen.isoformat()}" if watch.last_seen else "never heard from"
        message = (
            f"stale: {what} for {watch.age_s(now):.0f}s, more than {intervals:g} intervals of "
            f"{watch.interval_s:g}s ({heard}); silence is not health"
        )
    else:
        message = f"reporting again: {what.replace('no ', '', 1)}"
    return Signal(
        run_id=stale_id(watch.key),
        cluster=watch.cluster,
        case=watch.subject,
        outcome=outcome,
        at=now,
        cluster_labels=dict(watch.cluster_labels),
        step="staleness",
        message=message,
        cause=cause_of(watch.kind),
        confidence=1.0,
        priority=watch.priority,
        action="notify",
        reason=f"{watch.kind} silent for more than {intervals:g} of its intervals",
    )
