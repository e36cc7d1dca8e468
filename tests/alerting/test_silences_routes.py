"""Matchers, silences (one-off, recurring, weekly, time zone; mute vs pause) and routes."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from kubeprobe.alerting.matchers import Matcher, MatcherError, parse_all
from kubeprobe.alerting.routes import Route, RouteTable
from kubeprobe.alerting.silences import ScheduleError, Silence, muted, paused, weekly_cron

from .helpers import T0, signal

LABELS = {"cluster": "prod-1", "case": "pod-lifecycle", "cause": "etcd.unavailable", "env": "prod"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cluster=prod-1", True),
        ("cluster=prod-2", False),
        ("cluster!=prod-2", True),
        ("case=~pod-.*", True),
        ("case=~pod", False),  # a regex matches the whole value
        ("cause!~etcd\\..*", False),
        ("team!=db", True),  # missing label is ""
        ("team=", True),
        ("env=~prod|staging", True),
    ],
)
def test_matchers(text: str, expected: bool) -> None:
    assert Matcher.parse(text).matches(LABELS) is expected


@pytest.mark.parametrize("bad", ["cluster", "=x", "case=~(", "9x=1"])
def test_bad_matchers_say_what_is_wrong(bad: str) -> None:
    with pytest.raises(MatcherError, match=r"matcher|regular expression"):
        parse_all([bad])


def test_a_pathological_regex_matches_in_linear_time() -> None:
    """Issue 15, finding 3: `(.|.|.)*Z` backtracked for seconds (3**n paths) on the event loop."""
    matcher = Matcher.parse("case=~(.|.|.)*Z")
    for name in ("a" * 15, "a" * 10_000):
        started = time.perf_counter()
        assert not matcher.matches({"case": name})
        assert time.perf_counter() - started < 0.05, len(name)
    assert matcher.matches({"case": "aZ"})


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("case=~(a)\\1", "not an RE2 regular expression .*backreferences"),
        ("case=~(?=pod)", "not an RE2 regular expression"),
        ("case=~a{1001}", "invalid repetition size"),
        ("case=~" + "a" * 1000, "at most 1000 characters"),
        ("case=x\x00y", "NUL"),
    ],
)
def test_matchers_are_bounded_at_creation(bad: str, message: str) -> None:
    with pytest.raises(MatcherError, match=message):
        Matcher.parse(bad)


def test_one_off_silence_window() -> None:
    s = Silence(1, parse_all(["cluster=prod-1"]), "mute", T0, T0 + dt.timedelta(hours=1))
    assert not s.active(T0 - dt.timedelta(seconds=1))
    assert s.active(T0)
    assert s.active(T0 + dt.timedelta(minutes=59))
    assert not s.active(T0 + dt.timedelta(hours=1))
    assert muted([s], LABELS, T0) is s
    assert paused([s], LABELS, T0) is None  # mute does not pause runs


def test_pause_mode_mutes_and_pauses() -> None:
    s = Silence(2, parse_all(["env=prod"]), "pause", T0, T0 + dt.timedelta(hours=1))
    assert paused([s], LABELS, T0) is s
    assert muted([s], LABELS, T0) is s
    assert paused([s], {**LABELS, "env": "dev"}, T0) is None


def test_recurring_cron_window() -> None:
    # every day at 02:00 for two hours
    s = Silence(3, parse_all(["cluster=~prod-.*"]), "pause", cron="0 2 * * *", duration_s=7200)
    day = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
    assert not s.active(day + dt.timedelta(hours=1, minutes=59))
    assert s.active(day + dt.timedelta(hours=2))
    assert s.active(day + dt.timedelta(hours=3, minutes=59))
    assert not s.active(day + dt.timedelta(hours=4))


def test_weekly_window_in_a_time_zone() -> None:
    cron = weekly_cron(["sat", "sun"], "02:30")
    assert cron == "30 2 * * 6,0"
    s = Silence(
        4, parse_all(["cluster=prod-1"]), "mute", cron=cron, duration_s=3600, timezone="Asia/Shanghai"
    )
    saturday_0245_shanghai = dt.datetime(2026, 11, 28, 18, 45, tzinfo=dt.UTC)  # Fri 18:45 UTC
    assert s.active(saturday_0245_shanghai)
    assert not s.active(saturday_0245_shanghai + dt.timedelta(hours=1))
    monday = saturday_0245_shanghai + dt.timedelta(days=2)
    assert not s.active(monday)


def test_recurring_bounded_by_starts_and_ends() -> None:
    start = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    s = Silence(5, (), cron="0 * * * *", duration_s=600, starts=start, ends=start + dt.timedelta(days=1))
    assert not s.active(start - dt.timedelta(hours=1))
    assert s.active(start + dt.timedelta(minutes=5))
    assert not s.active(start + dt.timedelta(days=1, minutes=5))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "ends"),
        ({"ends": T0, "starts": T0}, "ends"),
        ({"cron": "not cron", "duration_s": 60}, "cron"),
        ({"cron": "0 0 31 2 *", "duration_s": 60}, "cron"),  # February 31st never comes
        ({"cron": "* * * * * *", "duration_s": 60}, "cron"),  # seconds: not accepted
        ({"cron": "0 0 29 2 *", "duration_s": 60}, "cron"),  # once in four years
        ({"cron": "0 2 * * *"}, "duration_s"),
        ({"cron": "0 2 * * *", "duration_s": 60, "timezone": "Mars/Base"}, "timezone"),
        ({"ends": T0, "duration_s": 60}, "duration_s"),
    ],
)
def test_bad_schedules_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ScheduleError, match=f"^{field}:"):
        Silence(9, (), **kwargs)  # type: ignore[arg-type]


def test_weekly_bad_input() -> None:
    with pytest.raises(ScheduleError, match="days"):
        weekly_cron(["funday"], "02:00")
    with pytest.raises(ScheduleError, match="at"):
        weekly_cron(["mon"], "25:00")


def test_signal_labels_include_cluster_labels() -> None:
    labels = signal("prod-1", cause="etcd.unavailable").labels
    assert labels == {"env": "prod", "cluster": "prod-1", "case": "pod", "cause": "etcd.unavailable"}


ROUTES = RouteTable.of(
    [
        Route("pager", ("pagerduty",), priorities=frozenset({"P1"}), continue_=True),
        Route("etcd-team", ("etcd-slack",), parse_all(["cause=~etcd\\..*"])),
        Route("prod", ("prod-dingtalk",), parse_all(["env=prod"])),
    ],
    default=("email",),
)


def test_routes_first_match_continue_and_default() -> None:
    assert ROUTES.receivers("P1", LABELS) == ["pagerduty", "etcd-slack"]  # continue, then first match stops
    assert ROUTES.receivers("P3", LABELS) == ["etcd-slack"]
    assert ROUTES.receivers("P3", {**LABELS, "cause": "network.dns"}) == ["prod-dingtalk"]
    assert ROUTES.receivers("P3", {"cause": "network.dns", "env": "dev"}) == ["email"]
    # a continue-only match still counts as matched: no default
    assert ROUTES.receivers("P1", {"cause": "network.dns", "env": "dev"}) == ["pagerduty"]
