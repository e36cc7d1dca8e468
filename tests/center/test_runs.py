"""Runs: listing with filters and pages, batched ingestion, rollups, retention and cluster health."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from kubeprobe.center.settings import CenterSettings
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.rollups import apply_retention, percentile, roll_up
from kubeprobe.center.store.tables import Rollup, Run, RunStep
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
        assert (await s.execute(select(func.count()).select_from(RunStep))).scalar_one() == 60

    page = await ok(await admin.get("/api/v1/runs", params={"limit": 7}))
    seen = [r["id"] for r in page["items"]]
    while page["next"]:
        page = await ok(await admin.get("/api/v1/runs", params={"limit": 7, "cursor": page["next"]}))
        seen += [r["id"] for r in page["items"]]
    assert seen == [f"{i:032x}" for i in range(30)]  # newest first, each once

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
    assert rollups == 1  # and its rollup
    async with store.transaction() as s:
        assert (await s.execute(select(func.count()).select_from(Run))).scalar_one() == 13


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
