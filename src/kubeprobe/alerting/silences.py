"""Silences and maintenance windows: which signals they match and when they are in force.

A silence is one-off (from `starts` to `ends`) or recurring: a cron expression (or a weekly schedule,
turned into one) opens a window of `duration_s` each time it fires, in the silence's time zone, and
`starts`/`ends` then bound the whole series. Mode `mute` records incidents but sends nothing; mode
`pause` also stops runs of the matched cases (a maintenance window).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

from kubeprobe.alerting.matchers import Matcher, all_match
from kubeprobe.model.schedule import CronScheduleError, check_cron

Mode = Literal["mute", "pause"]
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


class ScheduleError(ValueError):
    """A silence whose schedule is not valid; the message says what to fix."""


@dataclass(frozen=True)
class Silence:
    id: int
    matchers: tuple[Matcher, ...]
    mode: Mode = "mute"
    starts: dt.datetime | None = None
    ends: dt.datetime | None = None
    cron: str | None = None
    duration_s: float | None = None
    timezone: str = "UTC"
    comment: str = ""

    def __post_init__(self) -> None:
        validate_schedule(self.starts, self.ends, self.cron, self.duration_s, self.timezone)

    def matches(self, labels: dict[str, str]) -> bool:
        return all_match(self.matchers, labels)

    def active(self, at: dt.datetime) -> bool:
        """Whether the silence is in force at `at` (UTC-aware)."""
        if self.starts is not None and at < self.starts:
            return False
        if self.ends is not None and at >= self.ends:
            return False
        if self.cron is None:
            return True
        local = at.astimezone(ZoneInfo(self.timezone))
        try:
            fired: dt.datetime = croniter(self.cron, local + dt.timedelta(seconds=1)).get_prev(dt.datetime)
        except (CroniterError, ValueError, OverflowError):  # a schedule with no earlier firing
            return False
        return (local - fired).total_seconds() < (self.duration_s or 0)

    def expired(self, at: dt.datetime) -> bool:
        return self.ends is not None and at >= self.ends


def validate_schedule(
    starts: dt.datetime | None,
    ends: dt.datetime | None,
    cron: str | None,
    duration_s: float | None,
    timezone: str,
) -> None:
    if starts is not None and ends is not None and ends <= starts:
        raise ScheduleError(f"ends: {ends.isoformat()} is not after starts {starts.isoformat()}")
    if cron is None:
        if ends is None:
            raise ScheduleError("ends: a one-off silence needs an end (or give a recurring schedule)")
        if duration_s is not None:
            raise ScheduleError("duration_s: only a recurring silence (cron or weekly) has a duration")
        return
    try:
        check_cron(cron)
    except CronScheduleError as exc:
        raise ScheduleError(f"cron: {exc} (a silence's cron is like '0 2 * * sat')") from exc
    if duration_s is None or duration_s <= 0:
        raise ScheduleError("duration_s: a recurring silence needs a window length > 0 seconds")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ScheduleError(
            f"timezone: {timezone!r} is not a time zone name like UTC or Asia/Shanghai"
        ) from exc


def weekly_cron(days: Iterable[str], start: str) -> str:
    """A weekly schedule ('sat', 'sun' at '02:30') as the cron expression that opens its window."""
    wanted = [d.strip().lower()[:3] for d in days]
    bad = [d for d in wanted if d not in WEEKDAYS]
    if not wanted or bad:
        raise ScheduleError(f"days: {bad or 'none given'}; allowed: {', '.join(WEEKDAYS)}")
    hour, sep, minute = start.partition(":")
    if not (sep and hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise ScheduleError(f"at: {start!r} is not a time of day like 02:30")
    return f"{int(minute)} {int(hour)} * * {','.join(str(WEEKDAYS.index(d)) for d in wanted)}"


def in_force(silences: Iterable[Silence], labels: dict[str, str], at: dt.datetime) -> list[Silence]:
    """The silences that match these labels and are active now."""
    return [s for s in silences if s.active(at) and s.matches(labels)]


def muted(silences: Iterable[Silence], labels: dict[str, str], at: dt.datetime) -> Silence | None:
    """The first silence (of either mode) that keeps notifications for these labels quiet now."""
    found = in_force(silences, labels, at)
    return found[0] if found else None


def paused(silences: Iterable[Silence], labels: dict[str, str], at: dt.datetime) -> Silence | None:
    """The first maintenance window (mode pause) that stops runs with these labels now."""
    return next((s for s in in_force(silences, labels, at) if s.mode == "pause"), None)
