"""Bad input gets a 4xx naming the field and what is allowed; faults get 503 and write nothing."""

from __future__ import annotations

import sqlite3

import httpx
import pytest
from sqlalchemy import func, select

from kubeprobe.center.store.database import Store
from kubeprobe.center.store.tables import Cluster
from tests.center.conftest import ADMIN_TOKEN, Client
from tests.center.helpers import KUBECONFIG, TEMPLATE, ok, seed


async def _error(resp: httpx.Response, status: int) -> str:
    assert resp.status_code == status, resp.text
    detail = resp.json()["detail"]
    assert isinstance(detail, str)
    return detail


async def test_invalid_kubeconfig(api: Client) -> None:
    admin = api(ADMIN_TOKEN)
    msg = await _error(await admin.post("/api/v1/clusters", json={"name": "x", "kubeconfig": "a: [b"}), 422)
    assert msg.startswith("kubeconfig:")
    assert "YAML" in msg
    body = {"name": "x", "kubeconfig": KUBECONFIG, "context": "nope"}
    msg = await _error(await admin.post("/api/v1/clusters", json=body), 422)
    assert "no context named 'nope'" in msg
    assert "ctx" in msg  # the known contexts


async def test_unknown_parameter_wrong_type_unknown_field(api: Client) -> None:
    admin = api(ADMIN_TOKEN)
    await seed(admin, clusters=1)
    body = {"name": "bad", "template": "pod-lifecycle", "params": {"replica": 2}}
    msg = await _error(await admin.post("/api/v1/cases", json=body), 422)
    assert msg.startswith("params.replica:")
    assert "allowed: namespace, replicas" in msg
    body = {"name": "bad", "template": "pod-lifecycle", "params": {"replicas": "two"}}
    msg = await _error(await admin.post("/api/v1/cases", json=body), 422)
    assert msg.startswith("params.replicas:")
    assert "integer" in msg
    body = {"name": "bad", "template": "pod-lifecycle", "colour": "red"}
    msg = await _error(await admin.post("/api/v1/cases", json=body), 422)
    assert "colour" in msg
    assert "allowed: description, name, params, template" in msg
    msg = await _error(await admin.post("/api/v1/cases", json={"name": "bad", "template": "nope"}), 422)
    assert msg == "template: no case template named 'nope'"
    msg = await _error(
        await admin.post("/api/v1/templates", json=dict(TEMPLATE, name="t2", kind="test")), 422
    )
    assert msg.startswith("kind:")
    assert "'probe' or 'inspection'" in msg
    msg = await _error(
        await admin.post("/api/v1/clusters", json={"name": "Bad_Name", "kubeconfig": KUBECONFIG}), 422
    )
    assert msg.startswith("name:")
    both = dict(TEMPLATE, name="t3", image="busybox")
    assert "exactly one of entry_point" in await _error(await admin.post("/api/v1/templates", json=both), 422)
    schema = dict(
        TEMPLATE, name="t4", params_schema={"type": "object", "properties": {"a": {"type": "nope"}}}
    )
    assert (await _error(await admin.post("/api/v1/templates", json=schema), 422)).startswith(
        "params_schema:"
    )
    binding = {"name": "b", "case": "pod", "cluster": "c0", "cron": "every day"}
    assert (await _error(await admin.post("/api/v1/bindings", json=binding), 422)).startswith("cron:")
    binding = {"name": "b", "case": "pod", "suite": "basic", "cluster": "c0", "interval_seconds": 60}
    assert "exactly one of case or suite" in await _error(
        await admin.post("/api/v1/bindings", json=binding), 422
    )
    binding = {
        "name": "b",
        "case": "pod",
        "cluster": "c0",
        "interval_seconds": 60,
        "concurrency": "sometimes",
    }
    msg = await _error(await admin.post("/api/v1/bindings", json=binding), 422)
    assert msg.startswith("concurrency:")
    assert "'forbid', 'replace' or 'allow'" in msg
    msg = await _error(await admin.get("/api/v1/runs", params={"state": "weird"}), 422)
    assert msg.startswith("query.state:")
    msg = await _error(await admin.get("/api/v1/runs", params={"cursor": "???"}), 422)
    assert msg.startswith("cursor:")
    results = {
        "results": [
            {
                "case": "nope",
                "cluster": "c0",
                "state": "succeeded",
                "started": "2026-01-01T00:00:00Z",
                "finished": "2026-01-01T00:00:01Z",
            }
        ]
    }
    assert (await _error(await admin.post("/api/v1/results", json=results), 422)).startswith(
        "results[0].case:"
    )


async def test_duplicate_name(api: Client) -> None:
    admin = api(ADMIN_TOKEN)
    await seed(admin, clusters=1)
    msg = await _error(
        await admin.post("/api/v1/clusters", json={"name": "c0", "kubeconfig": KUBECONFIG}), 409
    )
    assert msg.startswith("name:")
    assert "already exists" in msg


async def test_oversized_body(api: Client) -> None:
    admin = api(ADMIN_TOKEN)
    huge = {"name": "x", "kubeconfig": "x" * 300_000}
    msg = await _error(await admin.post("/api/v1/clusters", json=huge), 413)
    assert "at most" in msg

    async def chunks():  # type: ignore[no-untyped-def]  # no Content-Length: streamed
        for _ in range(40):
            yield b" " * 10_000

    resp = await admin.post(
        "/api/v1/clusters", content=chunks(), headers={"content-type": "application/json"}
    )
    assert resp.status_code == 413


async def test_failed_request_writes_nothing(api: Client, store: Store) -> None:
    """A suite whose second case does not exist: no suite row, no audit entry, nothing half-written."""
    admin = api(ADMIN_TOKEN)
    await seed(admin, clusters=0)
    before = len(await ok(await admin.get("/api/v1/audit", params={"limit": 1000})))
    resp = await admin.post("/api/v1/suites", json={"name": "s2", "cases": ["pod", "ghost"]})
    assert resp.status_code == 422
    assert resp.json()["field"] == "cases"
    assert (await admin.get("/api/v1/suites/s2")).status_code == 404
    assert len(await ok(await admin.get("/api/v1/audit", params={"limit": 1000}))) == before


async def test_locked_sqlite_is_503_and_nothing_written(api: Client, store: Store, db_url: str) -> None:
    if store.dialect != "sqlite":
        pytest.skip("SQLite's file lock; PostgreSQL's outage is the next test")
    admin = api(ADMIN_TOKEN)
    path = db_url.split("///", 1)[1]
    blocker = sqlite3.connect(path, timeout=0.1)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        resp = await admin.post("/api/v1/clusters", json={"name": "c9", "kubeconfig": KUBECONFIG})
        assert resp.status_code == 503, resp.text
        assert "nothing was written" in resp.json()["detail"]
    finally:
        blocker.rollback()
        blocker.close()
    async with store.transaction() as s:
        assert (await s.execute(select(func.count()).select_from(Cluster))).scalar_one() == 0


async def test_postgres_down_is_503(api: Client, store: Store, db_url: str, postgres_url: str) -> None:
    if store.dialect != "postgresql":
        pytest.skip("PostgreSQL outage")
    import asyncpg
    from sqlalchemy.engine import make_url

    admin = api(ADMIN_TOKEN)
    u = make_url(postgres_url)
    conn = await asyncpg.connect(host=u.host, port=u.port, user=u.username, database="postgres")
    name = make_url(db_url).database
    try:
        # the database goes away under the running center, as in an outage of that server
        await conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        await conn.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
        await store.engine.dispose()
        resp = await admin.get("/api/v1/clusters")
        assert resp.status_code == 503, resp.text
        assert (await api(None).get("/readyz")).status_code == 503
    finally:
        await conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        await conn.close()
    await ok(await admin.get("/api/v1/clusters"))
