"""A stored object the center skips says why on itself (issue 15), on SQLite and PostgreSQL.

A binding, silence or route stored before its cron or matchers were checked (simulated by writing
the row directly) is skipped so that the others keep working; its ``error`` is set when it is
skipped, shown by the API, and cleared when it works again or is replaced. A receiver's ``error``
is its last delivery's failure.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import update

from kubeprobe.center.services.scheduler import Scheduler
from kubeprobe.center.store import routing
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.routing import route_table
from kubeprobe.center.store.silences import current_silences
from kubeprobe.center.store.tables import Binding
from kubeprobe.center.store.tables.alerting import RouteRow, SilenceRow
from kubeprobe.center.store.targets import expand
from tests.center.conftest import Client

KUBECONFIG = """apiVersion: v1
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
users: [{name: u, user: {token: x}}]
"""
SILENCE = {"matchers": ["case=x"], "ends": "2099-01-01T00:00:00Z"}


async def _made(api: Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    resp = await api().post(path, json=body)
    assert resp.status_code == 201, resp.text
    got: dict[str, Any] = resp.json()
    return got


async def _get(api: Client, path: str) -> Any:
    resp = await api().get(path)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def _stored(store: Store, statement: Any) -> None:
    async with store.transaction() as s:
        await s.execute(statement)


async def test_a_skipped_silence_shows_why_until_it_is_replaced(api: Client, store: Store) -> None:
    bad = await _made(api, "/api/v1/silences", SILENCE)
    good = await _made(api, "/api/v1/silences", {**SILENCE, "matchers": ["case=ok"]})
    assert bad["error"] is None
    await _stored(
        store, update(SilenceRow).where(SilenceRow.id == bad["id"]).values(matchers=["case=~(a)\\1"])
    )
    async with store.transaction() as s:
        assert [x.id for x in await current_silences(s, dt.datetime.now(dt.UTC))] == [good["id"]]
    listed = {x["id"]: x for x in await _get(api, "/api/v1/silences")}  # listing still works
    assert "no longer validates" in listed[bad["id"]]["error"]
    assert listed[bad["id"]]["active"] is False
    assert listed[good["id"]]["error"] is None
    assert "no longer validates" in (await _get(api, f"/api/v1/silences/{bad['id']}"))["error"]
    fixed = await api().put(f"/api/v1/silences/{bad['id']}", json=SILENCE)
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["error"] is None
    async with store.transaction() as s:
        assert len(await current_silences(s, dt.datetime.now(dt.UTC))) == 2


async def test_a_skipped_route_shows_why_until_it_is_replaced(api: Client, store: Store) -> None:
    hook = {"name": "rx", "kind": "webhook", "secrets": {"url": "http://127.0.0.1:1/hook"}}
    await _made(api, "/api/v1/receivers", hook)
    for name in ("bad", "good"):
        await _made(api, "/api/v1/routes", {"name": name, "receivers": ["rx"], "matchers": ["case=x"]})
    await _stored(store, update(RouteRow).where(RouteRow.name == "bad").values(matchers=["case=~(?=x)"]))
    async with store.transaction() as s:
        assert [r.name for r in (await route_table(s)).routes] == ["good"]
    routes = {r["name"]: r for r in await _get(api, "/api/v1/routes")}
    assert "matchers no longer validate" in routes["bad"]["error"]
    assert routes["good"]["error"] is None
    fixed = await api().put("/api/v1/routes/bad", json={"name": "bad", "receivers": ["rx"]})
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["error"] is None
    async with store.transaction() as s:
        assert len((await route_table(s)).routes) == 2
    assert all(r["error"] is None for r in await _get(api, "/api/v1/routes"))


async def test_a_binding_the_scheduler_skips_shows_why_until_it_works(api: Client, store: Store) -> None:
    await _made(api, "/api/v1/clusters", {"name": "c1", "kubeconfig": KUBECONFIG})
    await _made(api, "/api/v1/templates", {"name": "t", "kind": "probe", "image": "x:1"})
    await _made(api, "/api/v1/cases", {"name": "k", "template": "t"})
    for name in ("never", "fine"):
        await _made(
            api, "/api/v1/bindings", {"name": name, "case": "k", "cluster": "c1", "cron": "*/5 * * * *"}
        )
    await _stored(store, update(Binding).where(Binding.name == "never").values(cron="0 0 31 2 *"))
    scheduler = Scheduler(store)

    async def replan() -> list[str]:
        heap = scheduler.plan(await expand(store), dt.datetime.now(dt.UTC).timestamp())
        await scheduler._show_problems()  # what run_forever does after each reload
        return [str(t.binding_id) for _, _, t in heap]

    assert len(await replan()) == 1  # the other binding is still planned
    never = await _get(api, "/api/v1/bindings/never")
    assert "skipped by the scheduler" in never["error"]
    assert "0 0 31 2 *" in never["error"]
    assert (await _get(api, "/api/v1/bindings/fine"))["error"] is None
    await replan()  # unchanged: written once, still shown
    assert (await _get(api, "/api/v1/bindings/never"))["error"] == never["error"]
    await _stored(store, update(Binding).where(Binding.name == "never").values(cron="0 0 1 1 *"))
    assert len(await replan()) == 2  # works again (fixed outside the API): cleared at the reload
    assert (await _get(api, "/api/v1/bindings/never"))["error"] is None


async def test_a_receiver_shows_its_last_delivery_failure(api: Client, store: Store) -> None:
    hook = {"name": "rx", "kind": "webhook", "secrets": {"url": "http://127.0.0.1:1/hook"}}
    assert (await _made(api, "/api/v1/receivers", hook))["error"] is None
    async with store.transaction() as s:
        await routing.note_delivery(s, "rx", "connection refused")
    assert (await _get(api, "/api/v1/receivers/rx"))["error"] == "connection refused"
    async with store.transaction() as s:
        await routing.note_delivery(s, "rx", None)
    assert (await _get(api, "/api/v1/receivers"))[0]["error"] is None
    async with store.transaction() as s:
        await routing.note_delivery(s, "rx", "receiver 'rx' is misconfigured: url: not a URL")
    replaced = await api().put("/api/v1/receivers/rx", json=hook)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["error"] is None
