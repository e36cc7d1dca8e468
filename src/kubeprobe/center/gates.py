"""Gates of DESIGN.md: a release check. A change event for a cluster runs every case bound to it
(trigger ``gate``, the change id in the run's details); the gate then passes or blocks.

The rule, defined here once: ``pending`` while any of its runs is unfinished; ``pass`` when all
succeeded; else ``block`` (an ``error`` blocks too: a release cannot pass on a cluster whose probes
could not run). The runs that did not succeed are the gate's ``failing`` ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from kubeprobe.model import RunState

GateState = Literal["pending", "pass", "block"]


@dataclass(frozen=True)
class GateRun:
    """One run of a gate."""

    id: str
    case: str
    state: str
    messages: tuple[str, ...] = ()


def gate_state(states: Iterable[str]) -> GateState:
    """The gate rule over the states of a gate's runs."""
    seen = [RunState(s) for s in states]
    if any(not s.terminal for s in seen):
        return "pending"
    if all(s == RunState.SUCCEEDED for s in seen):
        return "pass"
    return "block"


def failing(runs: Sequence[GateRun]) -> list[GateRun]:
    """The runs that ended without succeeding: why a gate blocks."""
    return [r for r in runs if RunState(r.state).terminal and r.state != RunState.SUCCEEDED]
