"""Outlets on virtual time: state changes at once within budget, the latest held back, summaries merged."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from kubeprobe.operator.bucket import TokenBucket
from kubeprobe.operator.buffer import ReportBuffer
from kubeprobe.operator.denoise import Outcome, Transition
from kubeprobe.operator.loop import ProbeLoop, jitter_of
from kubeprobe.operator.probes import Probe
from kubeprobe.operator.reporting import Outlet, Stats, percentile
from kubeprobe.operator.spec import Budget, ProbeConfigSpec, parse_spec

T0 = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make(tmp_path: Path, clock: Clock, rate: float = 0.5, burst: int = 2, shared_burst: int = 100) -> Outlet:
    spec = ProbeConfigSpec("ns", "cfg", "apiserver-read", interval=1, timeout=1, budget=Budget(rate, burst))
    shared = TokenBucket(100, shared_burst, clock)
    return Outlet(spec, "c0", ReportBuffer(tmp_path / "b.db"), shared, clock=clock)


def test_state_changes_within_budget_latest_wins(tmp_path: Path) -> None:
    clock = Clock()
    out = make(tmp_path, clock)
    states = ["healthy", "degraded", "failing", "degraded", "healthy", "failing"]
    prev = "unknown"
    for s in states:
        out.state_change(Transition(prev, s, "r"), T0, "m", 0, None)  # type: ignore[arg-type]
        prev = s
    written = [p.body for p in out.buffer.peek(100)]
    assert [b["state"] for b in written] == ["healthy", "degraded"]  # burst of 2
    assert out.held_state is not None
    assert out.held_state["state"] == "failing"
    clock.now += 2.0  # one token back
    out.pump()
    written = [p.body for p in out.buffer.peek(100)]
    assert [b["state"] for b in written] == ["healthy", "degraded", "failing"]
    assert written[-1]["previous"] == "degraded"  # from where the center last knew
    assert written[-1]["suppressed"] == 3
    assert len({b["key"] for b in written}) == 3


def test_summaries_held_back_are_merged(tmp_path: Path) -> None:
    clock = Clock()
    out = make(tmp_path, clock, burst=1)
    for i in range(3):
        s = Stats(start=T0 + dt.timedelta(seconds=10 * i))
        s.add("ok", 5.0, "")
        s.add("failed", 50.0, "boom")
        out.summary(s, T0 + dt.timedelta(seconds=10 * i + 10), "degraded", 1)
    written = [p.body for p in out.buffer.peek(100)]
    assert len(written) == 1
    clock.now += 10
    out.pump()
    written = [p.body for p in out.buffer.peek(100)]
    assert [b["runs"] for b in written] == [2, 4]  # nothing counted twice, nothing lost
    assert written[1]["period_start"] == (T0 + dt.timedelta(seconds=10)).isoformat()
    assert written[1]["latency_ms"]["max"] == 50.0


def test_percentile() -> None:
    values = sorted(float(i) for i in range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile([], 50) == 0


def test_loop_record_reports_change_at_once_and_summary(tmp_path: Path) -> None:
    clock = Clock()
    spec = parse_spec(
        "ns", "cfg", {"probe": "apiserver-read", "intervalSeconds": 1, "summaryIntervalSeconds": 5}
    )
    out = Outlet(spec, "c0", ReportBuffer(tmp_path / "b.db"), TokenBucket(100, 100, clock), clock=clock)
    loop = ProbeLoop(spec, Probe(spec, None), out)  # type: ignore[arg-type]
    outcomes: list[Outcome] = ["ok", "ok", "failed", "failed", "failed", "ok"]
    for i, outcome in enumerate(outcomes):
        loop.record(outcome, 3.0, "" if outcome == "ok" else "down", T0.timestamp() + i)
    kinds = [(p.body["kind"], p.body["state"]) for p in out.buffer.peek(100)]
    assert kinds == [
        ("state", "healthy"),
        ("state", "degraded"),
        ("state", "failing"),
        ("summary", "failing"),
    ]


def test_jitter_is_stable_and_spread() -> None:
    assert jitter_of("ns/a", 1.0) == jitter_of("ns/a", 1.0)
    values = [jitter_of(f"ns/c{i}", 10.0) for i in range(1000)]
    assert 0 <= min(values) < 0.5
    assert 9.5 < max(values) < 10


def test_a_closing_loop_reports_its_open_period_and_what_the_budget_held(tmp_path: Path) -> None:
    """A graceful stop (pod deleted, replica paused, config removed) loses no result: the open
    summary period ends at the stop and goes out with the held state change, budget or not."""
    clock = Clock()
    spec = parse_spec(
        "ns", "cfg", {"probe": "apiserver-read", "intervalSeconds": 1, "summaryIntervalSeconds": 60}
    )
    out = Outlet(spec, "c0", ReportBuffer(tmp_path / "b.db"), TokenBucket(100, 1, clock), clock=clock)
    loop = ProbeLoop(spec, Probe(spec, None), out)  # type: ignore[arg-type]
    for i, outcome in enumerate(["ok", "failed", "failed", "ok"]):
        loop.record(outcome, 3.0, "", T0.timestamp() + i)  # type: ignore[arg-type]
    assert [p.body["state"] for p in out.buffer.peek(100)] == ["healthy"]  # the rest held back
    assert out.holding
    loop.close(T0.timestamp() + 4.5)
    written = [p.body for p in out.buffer.peek(100)]
    assert [(b["kind"], b["state"]) for b in written] == [
        ("state", "healthy"),
        ("state", "failing"),  # the latest change held back (it replaced "degraded")
        ("summary", "failing"),
    ]
    assert written[1]["previous"] == "healthy"
    assert written[-1]["runs"] == 4
    assert written[-1]["period_start"] == T0.isoformat()
    assert written[-1]["period_end"] == (T0 + dt.timedelta(seconds=4.5)).isoformat()
    assert not out.holding
    loop.close(T0.timestamp() + 5)  # nothing more: a period is reported once
    assert len(out.buffer.peek(100)) == 3
