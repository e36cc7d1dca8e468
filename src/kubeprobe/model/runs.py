"""Runs and steps, and the run lifecycle of DESIGN.md.

``pending → dispatched → running → succeeded | failed | timed_out | error | cancelled``.
``failed`` means the case proved a problem; ``error`` means KubeProbe could not run it (reported
as unknown, never as a failed probe).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kubeprobe.model.findings import Finding


class RunState(StrEnum):
    PENDING = "pending"
    DISPATCHED = "dispatched"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    ERROR = "error"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES


# The groupings of run states that the rest of the code asks about, defined once here.
#: A run in one of these has ended; its state changes no more.
TERMINAL_STATES = frozenset(
    {RunState.SUCCEEDED, RunState.FAILED, RunState.TIMED_OUT, RunState.ERROR, RunState.CANCELLED}
)
#: Not ended yet: waiting for a dispatcher or being executed (a concurrency policy looks at these).
UNFINISHED_STATES = frozenset({RunState.PENDING, RunState.DISPATCHED, RunState.RUNNING})
#: Claimed by a dispatcher and being executed (a restarted center reconciles these).
IN_FLIGHT_STATES = frozenset({RunState.DISPATCHED, RunState.RUNNING})
#: The case proved a problem (a timed-out case counts: it did not finish in time).
FAILURE_STATES = frozenset({RunState.FAILED, RunState.TIMED_OUT})
#: KubeProbe could not get a result: reported as unknown, never as a failed probe.
ERROR_STATES = frozenset({RunState.ERROR})
#: Did not succeed and was not cancelled: what analysis diagnoses and a gate blocks on.
FAILING_STATES = FAILURE_STATES | ERROR_STATES


def state_values(states: frozenset[RunState]) -> list[str]:
    """A grouping as sorted plain strings, for a stable SQL ``IN (...)``."""
    return sorted(str(s) for s in states)


#: Which state may follow which; anything else is a bug or a late report.
TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    RunState.PENDING: frozenset({RunState.DISPATCHED, RunState.CANCELLED, RunState.ERROR}),
    RunState.DISPATCHED: frozenset({RunState.RUNNING, *TERMINAL_STATES}),
    RunState.RUNNING: TERMINAL_STATES,
}


def can_transition(old: RunState, new: RunState) -> bool:
    return new in TRANSITIONS.get(old, frozenset())


class Trigger(StrEnum):
    SCHEDULE = "schedule"
    EVENT = "event"
    WATCH = "watch"
    MANUAL = "manual"
    GATE = "gate"


@dataclass(frozen=True)
class Step:
    """A timed sub-operation inside a run."""

    name: str
    ok: bool
    duration_ms: float
    error: str | None = None


@dataclass(frozen=True)
class Run:
    """One execution of one case on one cluster."""

    id: str
    case: str
    cluster: str
    state: RunState
    trigger: Trigger
    deadline: dt.datetime
    created: dt.datetime
    started: dt.datetime | None = None
    finished: dt.datetime | None = None
    messages: tuple[str, ...] = ()
    steps: tuple[Step, ...] = ()
    findings: tuple[Finding, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
