"""API models of silences: matchers, mode (mute notifications, or pause runs too: a maintenance
window), one-off (starts/ends) or recurring (cron or weekly, with a duration)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from kubeprobe.center.schemas.common import AwareTime, Input, Text


class Weekly(Input):
    days: list[str] = Field(min_length=1, description="mon, tue, ... sun")
    at: str = Field(description="time of day HH:MM the window opens, in the silence's timezone")


class SilenceIn(Input):
    matchers: list[Text] = Field(
        min_length=1, description="LABEL=VALUE, LABEL!=VALUE, LABEL=~REGEX, LABEL!~REGEX on cluster, case, "
        "cause and cluster labels; all must match",
    )  # fmt: skip
    mode: Literal["mute", "pause"] = Field("mute", description="mute: no notifications; pause: also no runs")
    starts: AwareTime | None = Field(None, description="default now (one-off) / unbounded (recurring)")
    ends: AwareTime | None = Field(None, description="required for a one-off silence")
    cron: str | None = Field(None, description="recurring: a cron expression that opens each window")
    weekly: Weekly | None = Field(None, description="recurring: days and time of day (instead of cron)")
    duration_s: float | None = Field(None, gt=0, description="recurring: how long each window lasts")
    timezone: str = Field("UTC", max_length=64, description="time zone of cron / weekly")
    comment: Text = ""


class SilenceOut(BaseModel):
    id: int
    matchers: list[str]
    mode: str
    starts: dt.datetime | None
    ends: dt.datetime | None
    cron: str | None
    duration_s: float | None
    timezone: str
    comment: str
    created_by: str
    created: dt.datetime
    active: bool = Field(description="in force right now")
    error: str | None = Field(
        None, description="why it is skipped (its matchers or schedule no longer validate); null: in use"
    )
