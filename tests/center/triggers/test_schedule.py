"""Interval spreading, cron, CloudEvents parsing and coalescing."""

from __future__ import annotations

import collections
import datetime as dt
import random

import pytest

from kubeprobe.center.triggers import cron, events, spread


def test_thousand_bindings_on_one_interval_are_spread_evenly() -> None:
    keys = [f"binding-{i}/cluster-{i % 37}" for i in range(1000)]
    slots = spread.plan({60.0: keys})
    rng = random.Random(7)
    starts = [slots[k].next_start(1_000_000.0, jitter=5.0, rng=rng) for k in keys]
    buckets = collections.Counter(int((s - 1_000_000.0) * 10) for s in starts)  # 100 ms buckets
    mean = len(starts) / 600
    assert max(buckets.values()) <= 2 * mean
    assert all(1_000_000.0 < s <= 1_000_060.0 + 0.06 for s in starts)


def test_slot_plan_is_stable_and_next_start_is_after() -> None:
    one = spread.plan({30.0: ["a", "b", "c"]})
    two = spread.plan({30.0: ["c", "a", "b"]})
    assert one == two
    slot = one["a"]
    start = slot.next_start(100.0)
    assert 100.0 < start <= 130.0
    assert slot.next_start(start) == pytest.approx(start + 30.0)
    with pytest.raises(ValueError, match="positive"):
        spread.plan({0.0: ["x"]})


def test_cron_next_start_with_stable_jitter() -> None:
    after = dt.datetime(2026, 1, 1, 10, 2, tzinfo=dt.UTC)
    assert cron.next_start("*/5 * * * *", after) == dt.datetime(2026, 1, 1, 10, 5, tzinfo=dt.UTC)
    a = cron.next_start("*/5 * * * *", after, key="k1", jitter_seconds=60)
    assert a == cron.next_start("*/5 * * * *", after, key="k1", jitter_seconds=60)
    assert dt.timedelta(0) <= a - dt.datetime(2026, 1, 1, 10, 5, tzinfo=dt.UTC) < dt.timedelta(seconds=60)
    with pytest.raises(cron.CronError, match="invalid cron expression"):
        cron.validate("every five minutes")


def test_cloudevent_parsing_finds_the_cluster() -> None:
    base = {"specversion": "1.0", "id": "e1", "source": "ci", "type": "component.released"}
    assert events.parse({**base, "subject": "cluster/prod-1"}).cluster == "prod-1"
    assert events.parse({**base, "data": {"cluster": "prod-2"}}).cluster == "prod-2"
    assert events.parse({**base, "cluster": "prod-3", "time": "2026-01-01T00:00:00Z"}).time is not None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "must be a JSON object"),
        ({"specversion": "1.0", "id": "e", "source": "s"}, "'type' is required"),
        ({"specversion": "0.3", "id": "e", "source": "s", "type": "t", "cluster": "c"}, "not supported"),
        ({"specversion": "1.0", "id": "e", "source": "s", "type": "t"}, "names no cluster"),
        (
            {"specversion": "1.0", "id": "e", "source": "s", "type": "t", "cluster": "c", "time": "x"},
            "RFC 3339",
        ),
    ],
)
def test_bad_cloudevents_name_the_attribute(body: object, message: str) -> None:
    with pytest.raises(events.EventError, match=message):
        events.parse(body)


def test_event_filters() -> None:
    # coalescing of repeated events is the store's (recent event runs): test_dispatcher covers it
    assert events.matches(["component.*"], "component.released")
    assert events.matches(["*"], "anything")
    assert not events.matches(["node.added"], "component.released")
