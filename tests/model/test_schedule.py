"""Cron expressions: five fields, firing every year (issue 15, finding 4)."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from kubeprobe.model.schedule import CronScheduleError, check_cron

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("expression", ["*/5 * * * *", "0 3 * * *", "0 2 * * sat", "@daily", "0 0 1 1 *"])
def test_accepted(expression: str) -> None:
    check_cron(expression, NOW)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 0 31 2 *", "does not fire within a year"),  # stopped all scheduling at run time
        ("0 0 30 2 *", "does not fire within a year"),
        ("0 0 29 2 *", "does not fire within a year"),  # leap days only
        ("* * * * * *", "has 6 fields"),  # fired every second, past the 10 s minimum
        ("*/10 * * * * *", "has 6 fields"),
        ("0 0 1 1 * 2099", "has 6 fields"),
        ("0 0 1 1 * * 2099", "has 7 fields"),
        ("@reboot", "has 1 fields"),
        ("61 * * * *", "not a cron expression"),
        ("*/5 * * * *\x00", "no NUL"),
        ("* " * 100, "at most 128 characters"),
    ],
)
def test_refused(expression: str, message: str) -> None:
    started = time.perf_counter()
    with pytest.raises(CronScheduleError, match=message):
        check_cron(expression, NOW)
    assert time.perf_counter() - started < 0.5
