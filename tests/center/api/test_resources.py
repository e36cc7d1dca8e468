"""CRUD of every resource through the API, on SQLite and PostgreSQL, with audit entries."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from kubeprobe.center.store.database import Store
from kubeprobe.center.store.tables import Cluster
from tests.center.conftest import Client
from tests.center.helpers import KUBECONFIG, TEMPLATE, ok, seed


async def test_clusters_crud_and_credentials_never_leave(api: Client, store: Store) -> None:
    admin = api("kp_test-admin-token")
    await seed(admin)
    got = await ok(await admin.get("/api/v1/clusters/c0"))
    assert got["server"] == "https://127.0.0.1:1"
    assert got["context"] == "ctx"
    assert got["labels"] == {"env": "prod"}
    assert "kubeconfig" not in got
    assert "credentials" not in got
    async with store.transaction() as s:
        stored = (await s.execute(select(Cluster.credentials).where(Cluster.name == "c0"))).scalar_one()
    assert b"very-secret-token" not in stored  # encrypted at rest

    page = await ok(await admin.get("/api/v1/clusters", params={"label": "env=prod"}))
    assert [c["name"] for c in page["items"]] == ["c0"]
    page = await ok(await admin.get("/api/v1/clusters", params={"limit": 1}))
    assert [c["name"] for c in page["items"]] == ["c0"]
    page = await ok(await admin.get("/api/v1/clusters", params={"limit": 1, "after": page["next"]}))
    assert [c["name"] for c in page["items"]] == ["c1"]

    patched = await ok(await admin.patch("/api/v1/clusters/c1", json={"labels": {"env": "prod"}}))
    assert patched["labels"] == {"env": "prod"}
    await ok(await admin.delete("/api/v1/clusters/c1"), 204)
    await ok(await admin.get("/api/v1/clusters/c1"), 404)


async def test_groups_templates_cases_suites_bindings(api: Client) -> None:
    admin = api("kp_test-admin-token")
    await seed(admin, clusters=3)
    group = await ok(
        await admin.post("/api/v1/groups", json={"name": "prod", "selector": {"env": "prod"}}), 201
    )
    assert group["clusters"] == ["c0", "c2"]
    case = await ok(await admin.get("/api/v1/cases/pod3"))
    assert case["params"] == {"namespace": "kubeprobe", "replicas": 3}  # defaults rendered
    assert case["kind"] == "probe"
    suite = await ok(await admin.get("/api/v1/suites/basic"))
    assert suite["cases"] == ["pod", "pod3"]
    binding = {
        "name": "basic-prod",
        "suite": "basic",
        "group": "prod",
        "interval_seconds": 60,
        "jitter_seconds": 10,
        "events": ["deployment.changed"],
        "concurrency": "forbid",
        "severity": "high",
    }
    created = await ok(await admin.post("/api/v1/bindings", json=binding), 201)
    assert created["group"] == "prod"
    assert created["suite"] == "basic"
    cron = {"name": "nightly", "case": "pod", "cluster": "c1", "cron": "0 3 * * *"}
    await ok(await admin.post("/api/v1/bindings", json=cron), 201)
    listed = await ok(await admin.get("/api/v1/bindings", params={"case": "pod"}))
    assert [b["name"] for b in listed["items"]] == ["nightly"]

    # in use: refused with who uses it, and nothing changes
    resp = await admin.delete("/api/v1/suites/basic")
    assert resp.status_code == 409
    assert "basic-prod" in resp.json()["detail"]
    await ok(await admin.delete("/api/v1/cases/pod3"), 409)
    await ok(await admin.delete("/api/v1/templates/pod-lifecycle"), 409)

    # replace
    replaced = dict(binding, severity="critical", interval_seconds=120)
    assert (await ok(await admin.put("/api/v1/bindings/basic-prod", json=replaced)))["severity"] == "critical"
    await ok(await admin.put("/api/v1/suites/basic", json={"name": "basic", "cases": ["pod3"]}))
    assert (await ok(await admin.get("/api/v1/suites/basic")))["cases"] == ["pod3"]
    new_tpl = dict(TEMPLATE, timeout_seconds=30)
    assert (await ok(await admin.put("/api/v1/templates/pod-lifecycle", json=new_tpl)))[
        "timeout_seconds"
    ] == 30
    await ok(
        await admin.put("/api/v1/cases/pod", json={"name": "pod", "template": "pod-lifecycle", "params": {}})
    )
    await ok(await admin.put("/api/v1/groups/prod", json={"name": "prod", "selector": {"env": "dev"}}))

    # delete in order
    for path in ("bindings/basic-prod", "bindings/nightly", "suites/basic", "cases/pod3", "groups/prod"):
        await ok(await admin.delete(f"/api/v1/{path}"), 204)

    audit = await ok(await admin.get("/api/v1/audit", params={"limit": 1000}))
    actions = {(e["action"], e["resource"], e["name"]) for e in audit}
    assert ("create", "cluster", "c0") in actions
    assert ("delete", "binding", "nightly") in actions
    assert ("update", "template", "pod-lifecycle") in actions
    assert all(e["actor"] == "admin" for e in audit if e["resource"] != "token")


async def test_template_change_that_breaks_a_case_is_refused(api: Client) -> None:
    admin = api("kp_test-admin-token")
    await seed(admin, clusters=0)
    schema = {"type": "object", "properties": {"namespace": {"type": "string"}}}
    resp = await admin.put("/api/v1/templates/pod-lifecycle", json=dict(TEMPLATE, params_schema=schema))
    assert resp.status_code == 409
    assert "pod3" in resp.json()["detail"]
    assert (await ok(await admin.get("/api/v1/templates/pod-lifecycle")))["timeout_seconds"] == 60


async def test_cluster_kubeconfig_replaced(api: Client) -> None:
    admin = api("kp_test-admin-token")
    await seed(admin, clusters=1)
    other = KUBECONFIG.replace("https://127.0.0.1:1", "https://10.0.0.1:6443")
    got = await ok(await admin.patch("/api/v1/clusters/c0", json={"kubeconfig": other}))
    assert got["server"] == "https://10.0.0.1:6443"


async def test_unknown_names_are_404(api: Client) -> None:
    admin: httpx.AsyncClient = api("kp_test-admin-token")
    for kind in ("clusters", "groups", "templates", "cases", "suites", "bindings"):
        resp = await admin.get(f"/api/v1/{kind}/nope")
        assert resp.status_code == 404, kind
        assert "nope" in resp.json()["detail"]


async def test_every_builtin_case_registers(store: Store) -> None:
    """Each template of the case registry starts cleanly as a stored template and default case."""
    from kubeprobe.center.services.builtin import builtin_templates, register_builtin

    templates = builtin_templates()
    assert templates, "the case registry is empty"
    added = await register_builtin(store, templates)
    assert sorted(added) == sorted(t.name for t in templates)
    assert await register_builtin(store, templates) == []  # second start: nothing new


async def test_replicas_starting_together_register_builtin_cases_once(db_url: str) -> None:
    """Two centers on one PostgreSQL start at the same moment: neither fails on the other's rows."""
    import asyncio

    from kubeprobe.center.services.builtin import builtin_templates, register_builtin

    if not db_url.startswith("postgresql"):
        pytest.skip("replicas share PostgreSQL; SQLite is one embedded center")
    stores = [Store.connect(db_url) for _ in range(3)]
    try:
        await stores[0].migrate()
        templates = builtin_templates()
        added = await asyncio.gather(*(register_builtin(s, templates) for s in stores))
        assert sorted(n for names in added for n in names) == sorted(t.name for t in templates)
    finally:
        for s in stores:
            await s.close()
