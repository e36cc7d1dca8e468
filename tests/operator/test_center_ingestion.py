"""The center's side: resident reports stored once by key and shown in the cluster's health view."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from tests.operator.conftest import CLUSTER, CenterServer

T0 = dt.datetime.now(dt.UTC).replace(microsecond=0)


def state(s: str, prev: str, at: dt.datetime, **extra: Any) -> dict[str, Any]:
    return {
        "key": uuid.uuid4().hex,
        "kind": "state",
        "cluster": CLUSTER,
        "case": "resident-default-api",
        "config": "default/api",
        "probe": "apiserver-read",
        "at": at.isoformat(),
        "state": s,
        "previous": prev,
        "reason": "test",
        "message": "" if s == "healthy" else "API server timed out",
        **extra,
    }


def summary(at: dt.datetime) -> dict[str, Any]:
    body = state("degraded", "healthy", at)
    body.update(
        kind="summary",
        previous=None,
        period_start=(at - dt.timedelta(seconds=60)).isoformat(),
        period_end=at.isoformat(),
        runs=60,
        ok=58,
        failed=2,
        errors=0,
        latency_ms={"p50": 3.0, "p95": 9.0, "p99": 20.0, "max": 25.0},
    )
    return body


async def test_batch_is_idempotent_and_shows_in_health(center: CenterServer) -> None:
    batch = [
        state("healthy", "unknown", T0),
        summary(T0 + dt.timedelta(seconds=60)),
        state("failing", "healthy", T0 + dt.timedelta(seconds=61)),
    ]
    async with center.client() as c:
        first = await c.post("/api/v1/resident/reports", json={"reports": batch})
        assert first.status_code == 202, first.text
        assert first.json() == {"accepted": 3, "duplicates": 0}
        again = await c.post("/api/v1/resident/reports", json={"reports": batch})
        assert again.json() == {"accepted": 0, "duplicates": 3}
        health = (await c.get(f"/api/v1/clusters/{CLUSTER}/health")).json()
        runs = (await c.get("/api/v1/runs", params={"case": "resident-default-api"})).json()["items"]
    (case,) = health["cases"]
    assert case["case"] == "resident-default-api"
    assert case["last_state"] == "failed"
    assert case["runs"] == 3
    assert len(runs) == 3
    stored = await center.reports()
    assert [r["state"] for r in stored] == ["failing", "degraded", "healthy"]


async def test_unknown_cluster_is_404_so_the_operator_keeps_reports(center: CenterServer) -> None:
    body = state("healthy", "unknown", T0)
    body["cluster"] = "nowhere"
    async with center.client() as c:
        resp = await c.post("/api/v1/resident/reports", json={"reports": [body]})
    assert resp.status_code == 404
    assert "register it first" in resp.text


async def test_bad_report_says_what_is_wrong(center: CenterServer) -> None:
    body = summary(T0)
    body["runs"] = 7
    async with center.client() as c:
        resp = await c.post("/api/v1/resident/reports", json={"reports": [body]})
    assert resp.status_code == 422
    assert "runs must equal" in resp.text
