"""Cron triggers: the next start of a cron expression, with a stable per-binding offset as jitter."""

from __future__ import annotations

import datetime as dt

from croniter import CroniterBadCronError, croniter

from kubeprobe.center.triggers.spread import stable_hash
from kubeprobe.model.schedule import CronScheduleError, check_cron


class CronError(ValueError):
    """The cron expression is not valid; the message says why."""


def validate(expression: str) -> None:
    """Five fields, firing every year (:func:`kubeprobe.model.schedule.check_cron`)."""
    try:
        check_cron(expression)
    except CronScheduleError as exc:
        raise CronError(f"invalid cron expression: {exc}") from exc


def next_start(
    expression: str, after: dt.datetime, *, key: str = "", jitter_seconds: float = 0.0
) -> dt.datetime:
    """The first firing strictly after ``after``, delayed by a stable offset in [0, jitter) for ``key``."""
    try:
        base = croniter(expression, after.astimezone(dt.UTC)).get_next(dt.datetime)
    except (CroniterBadCronError, ValueError, KeyError) as exc:
        raise CronError(f"invalid cron expression {expression!r}: {exc}") from exc
    if jitter_seconds > 0 and key:
        base += dt.timedelta(seconds=(stable_hash(key) % 10_000) / 10_000 * jitter_seconds)
    return base
