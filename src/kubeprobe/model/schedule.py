"""Cron expressions as KubeProbe accepts them, for bindings and recurring silences alike.

A cron expression has the five classic fields (minute hour day-of-month month day-of-week) or is
one of the macros ``@hourly`` ``@daily`` ``@midnight`` ``@weekly`` ``@monthly`` ``@yearly``
``@annually``. Six or seven fields (seconds, years) are refused: a 6-field cron would fire every
second, far below the 10 s minimum of a binding's interval, so sub-minute schedules are written as
``interval_seconds``. With minute resolution consecutive firings are at least 60 s apart.

An expression must also fire at least once in every year: checked from ``now`` and from the
start of each of the next four years (a leap-day-only cron such as ``0 0 29 2 *`` fires once in
four years and is refused), with croniter searching at most one year ahead, so a cron that never
fires (``0 0 31 2 *``) is refused in microseconds instead of stopping the scheduler at run time.
"""

from __future__ import annotations

import datetime as dt

from croniter import CroniterError, croniter

MACROS = frozenset({"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"})
MAX_CRON_CHARS = 128
YEAR = dt.timedelta(days=366)


class CronScheduleError(ValueError):
    """A cron expression that is not accepted; the message says why and what to write."""


def check_cron(expression: str, now: dt.datetime | None = None) -> None:
    """Raise :class:`CronScheduleError` unless ``expression`` is a 5-field cron that fires every year."""
    text = expression.strip()
    if len(text) > MAX_CRON_CHARS or "\x00" in text:
        raise CronScheduleError(f"a cron expression has at most {MAX_CRON_CHARS} characters and no NUL")
    fields = text.split()
    if not (len(fields) == 1 and text.lower() in MACROS) and len(fields) != 5:
        raise CronScheduleError(
            f"{text[:MAX_CRON_CHARS]!r} has {len(fields)} fields; write 5 (minute hour day-of-month month "
            "day-of-week), e.g. '*/5 * * * *'; seconds and years are not supported (for less than a "
            "minute use interval_seconds)"
        )
    if not croniter.is_valid(text):
        raise CronScheduleError(f"{text!r} is not a cron expression like '*/5 * * * *'")
    start = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    starts = [start, *(dt.datetime(start.year + n, 1, 1, tzinfo=dt.UTC) for n in range(1, 5))]
    for at in starts:
        try:
            fired = croniter(text, at, max_years_between_matches=1).get_next(dt.datetime)
        except (CroniterError, ValueError, OverflowError) as exc:
            raise CronScheduleError(f"{text!r} does not fire within a year of {at:%Y-%m-%d}") from exc
        if fired - at > YEAR:
            raise CronScheduleError(f"{text!r} does not fire within a year of {at:%Y-%m-%d}")
