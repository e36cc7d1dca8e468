"""Denoising: F-of-N failure rule, recovery rule, flap detection, unknown."""

from __future__ import annotations

import itertools
import random

import pytest

from kubeprobe.operator.denoise import Denoiser, Outcome, Rules


def feed(d: Denoiser, outcomes: str) -> list[str]:
    """Feed 'o' ok, 'f' failed, 'e' error; return the state after each."""
    names: dict[str, Outcome] = {"o": "ok", "f": "failed", "e": "error"}
    states = []
    for ch in outcomes:
        d.observe(names[ch])
        states.append(d.state)
    return states


def test_starts_unknown_then_healthy() -> None:
    d = Denoiser(Rules())
    assert d.state == "unknown"
    assert feed(d, "o") == ["healthy"]


def test_f_of_n_failure_rule() -> None:
    d = Denoiser(Rules(failures=3, window=5, successes=2, flap_changes=10))
    assert feed(d, "ooo") == ["healthy"] * 3
    # 3 failures among the last 5 runs, not necessarily consecutive
    assert feed(d, "fof") == ["degraded", "degraded", "degraded"]
    assert feed(d, "f") == ["failing"]
    assert d.consecutive_failures == 2


def test_recovery_rule_and_window_forgets() -> None:
    d = Denoiser(Rules(failures=3, window=5, successes=2, flap_changes=10))
    feed(d, "offf")
    assert d.state == "failing"
    assert feed(d, "o") == ["failing"]  # one success is not enough
    assert feed(d, "o") == ["healthy"]
    # the old failures are forgotten: one new failure is only degraded, not failing again
    assert feed(d, "f") == ["degraded"]


def test_flapping_is_degraded_not_a_storm_of_changes() -> None:
    d = Denoiser(Rules(failures=4, window=8, successes=2, flap_changes=4))
    changes = 0
    for ch in "ofofofofofofofof":
        if d.observe("ok" if ch == "o" else "failed"):
            changes += 1
    assert d.state in ("degraded", "failing")
    assert changes <= 3


def test_errors_are_unknown_not_failures() -> None:
    d = Denoiser(Rules(failures=3, window=5))
    assert feed(d, "oeee") == ["healthy", "healthy", "healthy", "unknown"]
    assert d.consecutive_failures == 0
    assert feed(d, "o") == ["healthy"]
    assert d.success_ratio == 1.0


def test_success_ratio_counts_decided_runs() -> None:
    d = Denoiser(Rules())
    feed(d, "oofe")
    assert d.success_ratio == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"failures": 6, "window": 5}, "failure rule"),
        ({"successes": 0}, "recovery rule"),
        ({"flap_changes": 1}, "flap"),
    ],
)
def test_bad_rules_say_what_is_wrong(kwargs: dict[str, int], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Rules(**kwargs)


@pytest.mark.parametrize("window", [1, 2, 5, 17])
def test_window_counts_kept_up_to_date_match_a_recount(window: int) -> None:
    """The O(1) bookkeeping equals counting the window again after every outcome (errors included)."""
    rng = random.Random(window)
    rules = Rules(failures=window, window=window, successes=2, flap_changes=1000)
    d = Denoiser(rules)
    outcomes: list[Outcome] = []
    for _ in range(3000):
        o: Outcome = rng.choice(["ok", "ok", "failed", "error"])
        previous = d.state
        d.observe(o)
        outcomes.append(o)
        if previous == "failing" and d.state == "healthy":  # recovery forgets the window
            outcomes = ["ok"] * min(d.consecutive_successes, window)
        recent = outcomes[-window:]
        decided = [x for x in recent if x != "error"]
        assert d._failed == recent.count("failed")
        assert d._alternations == sum(1 for a, b in itertools.pairwise(decided) if a != b)
