"""Tokens and roles: admin, operator, viewer, and the reporter scope of one run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

from tests.center.conftest import ADMIN_TOKEN, Client
from tests.center.helpers import ok, result, seed

MakeToken = Callable[[str], Awaitable[str]]


async def test_nothing_but_health_is_open(api: Client) -> None:
    anon = api(None)
    assert (await anon.get("/healthz")).status_code == 200
    assert (await anon.get("/readyz")).status_code == 200
    for path in ("/api/v1/clusters", "/api/v1/runs", "/api/v1/audit", "/metrics", "/api/v1/tokens"):
        resp = await anon.get(path)
        assert resp.status_code == 401, path
        assert "token" in resp.json()["detail"]
    assert (await api("kp_wrong").get("/api/v1/clusters")).status_code == 401


async def test_roles(api: Client, token_of: MakeToken) -> None:
    admin = api(ADMIN_TOKEN)
    await seed(admin, clusters=1)
    viewer = api(await token_of("viewer"))
    operator = api(await token_of("operator"))

    # viewers read, and only read
    await ok(await viewer.get("/api/v1/clusters"))
    await ok(await viewer.get("/api/v1/runs"))
    metrics = await viewer.get("/metrics")
    assert metrics.status_code == 200
    assert "kubeprobe_center_requests_total" in metrics.text
    resp = await viewer.post("/api/v1/groups", json={"name": "g", "selector": {}})
    assert resp.status_code == 403
    assert "viewer" in resp.json()["detail"]
    assert (await viewer.post("/api/v1/runs", json={"case": "pod", "cluster": "c0"})).status_code == 403
    assert (await viewer.get("/api/v1/audit")).status_code == 403

    # operators trigger and ingest, but do not change configuration or tokens
    await ok(await operator.post("/api/v1/runs", json={"case": "pod", "cluster": "c0"}), 201)
    now = dt.datetime.now(dt.UTC)
    await ok(
        await operator.post("/api/v1/results", json={"results": [result("pod", "c0", "succeeded", now)]}), 202
    )
    assert (await operator.delete("/api/v1/cases/pod")).status_code == 403
    assert (await operator.post("/api/v1/tokens", json={"name": "x", "role": "admin"})).status_code == 403

    # API tokens cannot report for a run; report tokens cannot do anything else
    run = await ok(await operator.post("/api/v1/runs", json={"case": "pod", "cluster": "c0"}), 201)
    assert (await admin.post(f"/api/v1/runs/{run['id']}/report", json={"ok": True})).status_code == 403
    reporter = api(run["report_token"])
    assert (await reporter.get("/api/v1/clusters")).status_code == 403
    assert (await reporter.get(f"/api/v1/runs/{run['id']}")).status_code == 403

    audit = await ok(await admin.get("/api/v1/audit", params={"resource": "run"}))
    assert {e["role"] for e in audit} == {"operator"}


async def test_token_revocation_and_expiry(api: Client, token_of: MakeToken) -> None:
    admin = api(ADMIN_TOKEN)
    secret = await token_of("viewer")
    names = [t["name"] for t in (await ok(await admin.get("/api/v1/tokens")))["items"]]
    name = next(n for n in names if n.startswith("viewer-"))
    await ok(await api(secret).get("/api/v1/clusters"))
    await ok(await admin.delete(f"/api/v1/tokens/{name}"), 204)
    assert (await api(secret).get("/api/v1/clusters")).status_code == 401
    resp = await admin.delete("/api/v1/tokens/admin")
    assert resp.status_code == 409  # a token cannot revoke itself
    listed = await ok(await admin.get("/api/v1/tokens"))
    assert all("token" not in t and "token_hash" not in t for t in listed["items"])


async def test_report_token_is_valid_for_its_run_only(api: Client, token_of: MakeToken) -> None:
    admin = api(ADMIN_TOKEN)
    await seed(admin, clusters=1)
    one = await ok(await admin.post("/api/v1/runs", json={"case": "pod", "cluster": "c0"}), 201)
    two = await ok(await admin.post("/api/v1/runs", json={"case": "pod", "cluster": "c0"}), 201)
    assert one["state"] == "pending"
    resp = await api(one["report_token"]).post(f"/api/v1/runs/{two['id']}/report", json={"ok": True})
    assert resp.status_code == 403
    assert "another run" in resp.json()["detail"]

    report = {
        "ok": False,
        "messages": ["pod never ran"],
        "steps": [
            {"name": "create", "ok": True, "duration_ms": 12},
            {"name": "wait-running", "ok": False, "duration_ms": 5000, "error": "timeout"},
        ],
        "findings": [
            {
                "check_id": "pod.stuck",
                "severity": "high",
                "message": "stuck",
                "object": {"kind": "Pod", "name": "p"},
            }
        ],
        "metrics": {"wait_ms": 5000},
    }
    done = await ok(await api(one["report_token"]).post(f"/api/v1/runs/{one['id']}/report", json=report))
    assert done["state"] == "failed"
    assert [s["name"] for s in done["steps"]] == ["create", "wait-running"]
    assert done["findings"][0]["object"]["kind"] == "Pod"

    again = await api(one["report_token"]).post(f"/api/v1/runs/{one['id']}/report", json={"ok": True})
    assert again.status_code == 200
    assert again.headers["KubeProbe-Report"] == "ignored"
    assert again.json()["state"] == "failed"  # a second report changes nothing


async def test_report_after_deadline_is_gone(api: Client) -> None:
    admin = api(ADMIN_TOKEN)
    await seed(admin, clusters=1)
    run = await ok(
        await admin.post("/api/v1/runs", json={"case": "pod", "cluster": "c0", "timeout_seconds": 0.001}), 201
    )
    deadline = dt.datetime.fromisoformat(run["deadline"])
    while dt.datetime.now(dt.UTC) <= deadline:  # a millisecond at most
        pass
    resp = await api(run["report_token"]).post(f"/api/v1/runs/{run['id']}/report", json={"ok": True})
    assert resp.status_code == 410
    assert (await ok(await admin.get(f"/api/v1/runs/{run['id']}")))["state"] == "pending"


async def test_failed_report_needs_a_message(api: Client) -> None:
    admin = api(ADMIN_TOKEN)
    await seed(admin, clusters=1)
    run = await ok(await admin.post("/api/v1/runs", json={"case": "pod", "cluster": "c0"}), 201)
    resp = await api(run["report_token"]).post(
        f"/api/v1/runs/{run['id']}/report", json={"ok": False, "messages": [" "]}
    )
    assert resp.status_code == 422
    assert "non-empty message" in resp.json()["detail"]
