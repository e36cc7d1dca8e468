"""What every API model shares: `Input` (the base of request bodies), names, labels, pages, states.

Inputs forbid unknown fields, and the error names the field and lists the allowed ones.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"),
    Field(
        description="lower-case letters, digits and '-', 1-63 characters, starting and ending alphanumeric"
    ),
]
LabelKey = Annotated[
    str, StringConstraints(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9][-A-Za-z0-9_./]*$")
]
LabelValue = Annotated[str, StringConstraints(max_length=63, pattern=r"^[A-Za-z0-9_.-]*$")]
Labels = dict[LabelKey, LabelValue]
Role = Literal["admin", "operator", "viewer"]
Concurrency = Literal["forbid", "replace", "allow"]
TerminalState = Literal["succeeded", "failed", "timed_out", "error", "cancelled"]
RunStateName = Literal[
    "pending", "dispatched", "running", "succeeded", "failed", "timed_out", "error", "cancelled"
]
TriggerName = Literal["schedule", "event", "watch", "manual", "gate"]
Text = Annotated[str, StringConstraints(max_length=4096)]
#: Times the center accepts, in UTC: others (year 1, 9999 at -14:00) overflowed in conversion or in
#: the database and were 500s.
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)
#: What an INTEGER column holds on both stores (PostgreSQL's is 32 bits).
INT32 = (-(2**31), 2**31 - 1)


def in_time_range(value: dt.datetime) -> dt.datetime:
    """A time as UTC, refused (a 422 naming the field) outside 1970..9000."""
    try:
        utc = (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    except (OverflowError, ValueError) as exc:
        raise ValueError("out of range: give a time between 1970 and 9000") from exc
    if not EARLIEST <= utc <= LATEST:
        raise ValueError("out of range: give a time between 1970 and 9000")
    return utc


Time = Annotated[dt.datetime, AfterValidator(in_time_range)]
AwareTime = Annotated[AwareDatetime, AfterValidator(in_time_range)]


class Input(BaseModel):
    """Base of every request body: unknown fields are refused with the list of allowed ones."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            allowed = cls.__pydantic_fields__  # a plain dict: `model_fields` is slow on the class
            if not allowed.keys() >= data.keys():
                unknown = sorted(str(k) for k in data if k not in allowed)
                raise ValueError(
                    f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
                )
        return data


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next: str | None = Field(None, description="cursor for the next page; absent on the last page")
