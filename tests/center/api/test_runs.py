"""Runs: listing with filters and pages, batched ingestion, rollups, retention and cluster health."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from kubeprobe.center.settings import CenterSettings
from kubeprobe.center.store.common import encode_cursor
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.rollups import (
    apply_retention,
    bucket_of,
    bucket_percentile,
    final_days_end,
    floor_day,
    percentile,
    roll_up,
)
from kubeprobe.center.store.tables import (
    BUCKET_COLUMNS,
    LATENCY_BUCKETS_MS,
    DailyRollup,
    Rollup,
    Run,
)
from tests.center.conftest import ADMIN_TOKEN, Client
from tests.center.helpers import ok, result, seed

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


async def test_batched_ingestion_is_idempotent_and_listed(api: Client, store: Store) -> None:
    admin = api(ADMIN_TOKEN)
    await seed(admin, clusters=2)
    batch = [
        result(
            "pod",
            f"c{i % 2}",
            "succeeded" if i % 3 else "failed",
            NOW - dt.timedelta(minutes=i),
            ms=100 + i,
            id=f"{i:032x}",
            steps=[
                {"name": "create", "ok": True, "duration_ms": 5},
                {"name": "delete", "ok": True, "duration_ms": 7},
            ],
            findings=[{"check_id": "x", "severity": "low", "message": "m"}] if i == 0 else [],
        )
        for i in range(30)
    ]
    assert await ok(await admin.post("/api/v1/results", json={"results": batch}), 202) == {
        "accepted": 30,
        "duplicates": 0,
    }
    assert await ok(await admin.post("/api/v1/results", json={"results": batch}), 202) == {
        "accepted": 0,
        "duplicates": 30,
    }
    async with store.transaction() as s:
        assert (await s.execute(select(func.count()).select_from(Run))).scalar_one() == 30
        steps = (await s.execute(select(Run.steps))).scalars().all()
        assert sum(len(x) for x in steps) == 60

    page = await ok(await admin.get("/api/v1/runs", params={"limit": 7}))
    seen = [r["id"] for r in page["items"]]
    while page["next"]:
        page = await ok(await admin.get("/api/v1/runs", params={"limit": 7, "cursor": page["next"]}))
        seen += [r["id"] for r in page["items"]]
    assert seen == [f"{i:032x}" for i in range(30)]  # newest first, each once

    # a cursor that decodes but names no time: 422, never a 500
    forged = encode_cursor("yesterday", "x")
    resp = await admin.get("/api/v1/runs", params={"cursor": forged})
    assert resp.status_code == 422
    assert resp.json()["field"] == "cursor"
    naive = encode_cursor("2026-01-01T00:00:00", "x")
    assert (await admin.get("/api/v1/runs", params={"cursor": naive})).status_code == 422

    failed = await ok(await admin.get("/api/v1/runs", params={"state": "failed", "cluster": "c0"}))
    assert {r["id"] for r in failed["items"]} == {f"{i:032x}" for i in range(0, 30, 6)}
    since = (NOW - dt.timedelta(minutes=4, seconds=30)).isoformat()
    recent = await ok(await admin.get("/api/v1/runs", params={"since": since}))
    assert len(recent["items"]) == 5
    await ok(await admin.post("/api/v1/groups", json={"name": "dev", "selector": {"env": "dev"}}), 201)
    dev = await ok(await admin.get("/api/v1/runs", params={"group": "dev", "limit": 1000}))
    assert {r["cluster"] for r in dev["items"]} == {"c1"}
    assert len(dev["items"]) == 15
    assert (await ok(await admin.get("/api/v1/runs", params={"case": "pod3"})))["items"] == []

    detail = await ok(await admin.get(f"/api/v1/runs/{0:032x}"))
    assert detail["state"] == "failed"
    assert detail["messages"] == ["it broke"]
    assert [s["name"] for s in detail["steps"]] == ["create", "delete"]
    assert detail["findings"][0]["check_id"] == "x"


async def test_health_rollups_and_retention(api: Client, store: Store, settings: CenterSettings) -> None:
    admin = api(ADMIN_TOKEN)
    await seed(admin, clusters=1)
    hour = NOW.replace(minute=0, second=0)
    old = [
        result("pod", "c0", "succeeded", hour - dt.timedelta(hours=3, minutes=m + 1), ms=10 * (m + 1))
        for m in range(10)
    ]
    old += [result("pod", "c0", "failed", hour - dt.timedelta(hours=3, minutes=30))]
    old += [result("pod", "c0", "error", hour - dt.timedelta(hours=3, minutes=31))]
    ancient = [result("pod3", "c0", "succeeded", NOW - dt.timedelta(days=20))]
    await ok(await admin.post("/api/v1/results", json={"results": old + ancient}), 202)
    async with store.transaction() as s:
        hours = await roll_up(s, NOW)
    assert hours >= 20 * 24
    async with store.transaction() as s:
        rolled = (
            await s.execute(select(Rollup).where(Rollup.hour == hour - dt.timedelta(hours=4)))
        ).scalar_one()
    assert (rolled.runs, rolled.failures, rolled.errors) == (12, 1, 1)
    assert rolled.max_ms == 100

    # fresh runs after the watermark count too, before any rollup sees them
    fresh = [result("pod", "c0", "succeeded", NOW, ms=50)]
    await ok(await admin.post("/api/v1/results", json={"results": fresh}), 202)
    health = await ok(await admin.get("/api/v1/clusters/c0/health", params={"window_hours": 24}))
    pod = next(c for c in health["cases"] if c["case"] == "pod")
    assert pod["runs"] == 13
    assert pod["failures"] == 1
    assert pod["errors"] == 1
    assert abs(pod["success_ratio"] - 11 / 12) < 1e-9  # errors are unknown, not failures
    assert pod["last_state"] == "succeeded"
    assert pod["latency_p95_ms"] == rolled.p95_ms
    month = await ok(await admin.get("/api/v1/clusters/c0/health", params={"window_hours": 720}))
    assert next(c for c in month["cases"] if c["case"] == "pod3")["runs"] == 1

    async with store.transaction() as s:
        again = await roll_up(s, NOW)  # idempotent: only the late window again
        assert again <= 3
        runs, rollups = await apply_retention(s, NOW, raw_days=7, rollup_days=10)
    assert runs == 1  # the 20-day-old run
    assert rollups == 2  # and its hourly and daily rollups
    async with store.transaction() as s:
        assert (await s.execute(select(func.count()).select_from(Run))).scalar_one() == 13


async def test_month_health_sums_days_and_hours_exactly(api: Client, store: Store) -> None:
    """Whole days come from daily rollups, the edges from hourly ones, the last hour from raw runs;
    together they give what the raw runs themselves say."""
    admin = api(ADMIN_TOKEN)
    await seed(admin, clusters=2)
    batch, expect = [], []
    for i in range(120):  # 1-3 per hour every few hours over ~26 days, durations over many buckets
        finished = NOW - dt.timedelta(minutes=317 * (i // 3) + 7 * (i % 3) + 1)
        state = "failed" if i % 7 == 0 else "error" if i % 11 == 0 else "succeeded"
        ms = float((i * 37) % 3000 + 1)
        batch.append(result("pod", "c0", state, finished, ms=ms))
        expect.append((state, ms))
    batch.append(result("pod", "c1", "succeeded", NOW - dt.timedelta(days=3)))  # another cluster
    await ok(await admin.post("/api/v1/results", json={"results": batch}), 202)
    async with store.transaction() as s:
        await roll_up(s, NOW)
    async with store.transaction() as s:
        hourly = (await s.execute(select(Rollup).where(Rollup.cluster_id == 1))).scalars().all()
        daily = (await s.execute(select(DailyRollup).where(DailyRollup.cluster_id == 1))).scalars().all()
    assert len(daily) < len(hourly)
    by_hour: dict[dt.datetime, list[float]] = {}
    for b, (_, ms) in zip(batch, expect, strict=False):
        finished = dt.datetime.fromisoformat(b["finished"])
        by_hour.setdefault(finished.replace(minute=0, second=0, microsecond=0), []).append(ms)
    for h in hourly:  # exact nearest-rank percentiles, computed in the database
        values = sorted(by_hour[h.hour])
        assert (h.runs, h.max_ms) == (len(values), values[-1])
        assert (h.p50_ms, h.p95_ms, h.p99_ms) == tuple(percentile(values, q) for q in (50, 95, 99))
    final = final_days_end(NOW.replace(minute=0, second=0))  # later days: health reads their hours
    assert all(d.day < final for d in daily)
    for column in ("runs", "failures", "errors", *BUCKET_COLUMNS):  # each day is the sum of its hours
        per_day: dict[dt.datetime, int] = {}
        for h in hourly:
            if h.hour < final:
                per_day[floor_day(h.hour)] = per_day.get(floor_day(h.hour), 0) + getattr(h, column)
        assert per_day == {d.day: getattr(d, column) for d in daily}, column

    health = await ok(await admin.get("/api/v1/clusters/c0/health", params={"window_hours": 720}))
    pod = next(c for c in health["cases"] if c["case"] == "pod")
    durations = sorted(ms for _, ms in expect)
    fails = sum(s == "failed" for s, _ in expect)
    errs = sum(s == "error" for s, _ in expect)
    assert (pod["runs"], pod["failures"], pod["errors"]) == (len(expect), fails, errs)
    assert abs(pod["success_ratio"] - (len(expect) - errs - fails) / (len(expect) - errs)) < 1e-9
    assert abs(pod["latency_avg_ms"] - sum(durations) / len(durations)) < 1e-6
    assert pod["latency_max_ms"] == durations[-1]
    p95 = percentile(durations, 95)
    assert pod["latency_p95_ms"] == min(LATENCY_BUCKETS_MS[bucket_of(p95)], durations[-1])

    # a window that starts mid-day: its first hours come from hourly rollups only
    hours = 24 * 10 + 7
    part = await ok(await admin.get("/api/v1/clusters/c0/health", params={"window_hours": hours}))
    since = NOW.replace(minute=0, second=0) - dt.timedelta(hours=hours)
    inside = [b for b in batch[:-1] if dt.datetime.fromisoformat(b["finished"]) >= since]
    assert next(c for c in part["cases"] if c["case"] == "pod")["runs"] == len(inside)


def test_bucket_percentile() -> None:
    counts = [0.0] * len(BUCKET_COLUMNS)
    for ms in (5, 20, 20, 90, 4000):
        counts[bucket_of(ms)] += 1
    assert bucket_percentile(counts, 50) == 25  # the 3rd of 5 is 20 ms: bucket (10, 25]
    assert bucket_percentile(counts, 95, max_ms=4000) == 4000  # bucket (2500, 5000], capped at max
    assert bucket_percentile([0.0] * len(BUCKET_COLUMNS), 95) is None
    assert bucket_of(10) == 0
    assert bucket_of(10.001) == 1
    assert bucket_of(10**9) == len(BUCKET_COLUMNS) - 1


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile([7.0], 95) == 7


async def test_manual_trigger_has_deadline_from_template(api: Client) -> None:
    admin = api(ADMIN_TOKEN)
    await seed(admin, clusters=1)
    run = await ok(await admin.post("/api/v1/runs", json={"case": "pod", "cluster": "c0"}), 201)
    created = dt.datetime.fromisoformat(run["created"])
    deadline = dt.datetime.fromisoformat(run["deadline"])
    assert abs((deadline - created).total_seconds() - 60) < 1
    assert run["report_token"].startswith("kpr_")
    assert run["trigger"] == "manual"
