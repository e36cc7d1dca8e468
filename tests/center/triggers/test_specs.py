"""What a watch taken over from another replica counts as written while nobody watched."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kubeprobe.center.triggers.specs import written_since

SINCE = dt.datetime(2026, 12, 3, 20, 0, 0, 700_000, tzinfo=dt.UTC)


def _obj(created: str, *fields: tuple[str, str | None]) -> dict[str, Any]:
    managed = [{"manager": "m", "time": t, **({"subresource": sub} if sub else {})} for t, sub in fields]
    return {"metadata": {"name": "x", "creationTimestamp": created, "managedFields": managed}}


def test_written_since() -> None:
    old = "2026-12-03T19:00:00Z"
    assert not written_since(_obj(old, (old, None)), SINCE)
    assert written_since(_obj(old, ("2026-12-03T20:00:05Z", None)), SINCE)  # a spec (or label) write
    assert not written_since(_obj(old, ("2026-12-03T20:00:05Z", "status")), SINCE)  # status only
    assert written_since(_obj("2026-12-03T20:00:01Z"), SINCE)  # created meanwhile
    assert written_since(
        _obj(old, ("2026-12-03T20:00:00Z", None)), SINCE
    )  # whole seconds: that second counts
    assert not written_since(_obj("garbage", ("not a time", None)), SINCE)
