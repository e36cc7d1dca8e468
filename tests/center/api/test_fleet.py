"""The dashboard's read routes (fleet matrix, history, findings, gates, whoami) and its static page."""

from __future__ import annotations

import datetime as dt

from tests.center.conftest import CenterApp
from tests.center.helpers import ok, result, seed

ADMIN = "kp_test-admin-token"


async def test_fleet_matrix_is_compact_and_current(center_app: CenterApp) -> None:
    admin = center_app.client(ADMIN)
    await seed(admin, clusters=3)
    await ok(await admin.post("/api/v1/groups", json={"name": "prod", "selector": {"env": "prod"}}), 201)
    now = dt.datetime.now(dt.UTC)
    batch = [
        result("pod", "c0", "failed", now - dt.timedelta(minutes=2)),
        result("pod", "c0", "succeeded", now - dt.timedelta(minutes=1)),  # newer: wins
        result("pod3", "c1", "timed_out", now),
        result("pod", "c2", "error", now),
    ]
    await ok(await admin.post("/api/v1/results", json={"results": batch}), 202)
    viewer = await center_app.token("viewer")
    fleet = await ok(await center_app.client(viewer).get("/api/v1/fleet"))
    assert [c["name"] for c in fleet["clusters"]] == ["c0", "c1", "c2"]
    assert fleet["clusters"][0]["labels"] == {"env": "prod"}
    assert fleet["cases"] == ["pod", "pod3"]
    assert fleet["groups"] == [{"name": "prod", "selector": {"env": "prod"}}]
    assert fleet["states"] == "s." + ".t" + "e."
    assert (await center_app.client(None).get("/api/v1/fleet")).status_code == 401


async def test_history_findings_and_whoami(center_app: CenterApp) -> None:
    admin = center_app.client(ADMIN)
    await seed(admin)
    now = dt.datetime.now(dt.UTC)
    # Both recent runs fall in the current hour's bucket, also in the first minute of an hour.
    earlier_this_hour = now - (now - now.replace(minute=0, second=0, microsecond=0)) / 2
    finding = {"check_id": "cert.expiry", "severity": "high", "message": "expires in 3 days"}
    batch = [
        result("pod", "c0", "succeeded", now - dt.timedelta(hours=2), ms=100),
        result("pod", "c0", "failed", earlier_this_hour, ms=300),
        result("pod", "c0", "succeeded", now, ms=200, findings=[finding]),
    ]
    await ok(await admin.post("/api/v1/results", json={"results": batch}), 202)
    hours = await ok(await admin.get("/api/v1/clusters/c0/history", params={"hours": 3}))
    assert len(hours) == 3
    assert [h["runs"] for h in hours] == [1, 0, 2]
    assert hours[-1]["success_ratio"] == 0.5
    assert hours[-1]["avg_ms"] == 250
    assert hours[1]["success_ratio"] is None
    one = await ok(await admin.get("/api/v1/clusters/c0/history", params={"hours": 3, "case": "pod3"}))
    assert sum(h["runs"] for h in one) == 0
    bad = await admin.get("/api/v1/clusters/c0/history", params={"hours": 0})
    assert bad.status_code == 422
    assert "hours" in bad.text
    missing = await admin.get("/api/v1/clusters/nope/history")
    assert missing.status_code == 404
    assert "nope" in missing.text
    findings = await ok(await admin.get("/api/v1/clusters/c0/findings"))
    assert [(f["case"], f["check_id"], f["severity"]) for f in findings] == [("pod", "cert.expiry", "high")]
    viewer = await center_app.token("viewer", name="alice")
    assert await ok(await center_app.client(viewer).get("/api/v1/whoami")) == {
        "name": "alice",
        "role": "viewer",
    }


async def test_gate_history(center_app: CenterApp) -> None:
    admin = center_app.client(ADMIN)
    await seed(admin)
    await ok(
        await admin.post(
            "/api/v1/bindings", json={"name": "b", "suite": "basic", "cluster": "c0", "events": ["release"]}
        ),
        201,
    )
    await ok(await admin.post("/api/v1/gates", json={"cluster": "c0", "change_id": "rel-1"}), 201)
    await ok(await admin.post("/api/v1/gates", json={"cluster": "c0", "change_id": "rel-2"}), 201)
    gates = await ok(await admin.get("/api/v1/gates"))
    assert [(g["gate"], g["state"], len(g["runs"])) for g in gates] == [
        ("rel-2", "pending", 2),
        ("rel-1", "pending", 2),
    ]
    assert await ok(await admin.get("/api/v1/gates", params={"cluster": "c1"})) == []
    bad = await admin.get("/api/v1/gates", params={"cluster": "nope"})
    assert bad.status_code == 422
    assert "nope" in bad.text
