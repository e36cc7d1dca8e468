"""Incidents in the center, on SQLite and PostgreSQL: observe → incident + queued deliveries, retries
with back-off, a pending delivery that survives a restart, fleet incidents, flakes, silences and
maintenance windows, reminders, and the API (incidents, silences, receivers, routes) with its audit."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from kubeprobe.alerting.incidents import AlertingPolicy
from kubeprobe.alerting.signals import Outcome
from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.schemas.alerting import ReceiverIn, RouteIn
from kubeprobe.center.schemas.silences import SilenceIn
from kubeprobe.center.services.alerting import DeliveryPolicy, IncidentService
from kubeprobe.center.store import routing
from kubeprobe.center.store import silences as silence_store
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.tables.alerting import DeliveryRow, IncidentRow, IncidentSignal, ReceiverRow
from tests.alerting.helpers import T0, signal
from tests.alerting.receivers import Receivers
from tests.center.conftest import ADMIN, Client
from tests.center.helpers import ok


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
async def hook() -> AsyncIterator[Receivers]:
    r = Receivers()
    await r.start()
    yield r
    await r.stop()


async def configure(store: Store, box: SecretBox, url: str) -> None:
    async with store.transaction() as s:
        await routing.put_receiver(
            s, box, ReceiverIn(name="hook", kind="webhook", secrets={"url": url}), ADMIN, create=True
        )
        await routing.put_route(
            s, RouteIn(name="all", receivers=["hook"], is_default=True), ADMIN, create=True
        )


def service(store: Store, box: SecretBox, clock: Clock, **policy: float) -> IncidentService:
    return IncidentService(
        store,
        box,
        clock=clock,
        policy=AlertingPolicy(**policy),
        delivery=DeliveryPolicy(base_s=30, max_attempts=3),  # type: ignore[arg-type]
    )


async def deliveries(store: Store) -> list[DeliveryRow]:
    async with store.transaction() as s:
        return list((await s.execute(select(DeliveryRow).order_by(DeliveryRow.id))).scalars())


async def incidents(store: Store) -> list[IncidentRow]:
    async with store.transaction() as s:
        return list((await s.execute(select(IncidentRow).order_by(IncidentRow.id))).scalars())


async def test_failure_fires_and_a_failing_receiver_is_retried_with_backoff(
    store: Store, box: SecretBox, hook: Receivers
) -> None:
    await configure(store, box, f"{hook.url}/hook")
    clock = Clock()
    svc = service(store, box, clock)
    try:
        await svc.observe(signal("c1", "pod"))
        (inc,) = await incidents(store)
        assert inc.state == "firing"
        assert inc.key == "cluster/c1/scheduling.scheduler_down"
        (d,) = await deliveries(store)
        assert d.state == "pending"
        assert d.receiver == "hook"
        assert d.event == "firing"
        assert d.payload["cluster"] == "c1"
        assert d.payload["run_url"]

        hook.fail.append(500)
        assert await svc.deliver_due() == 0
        (d,) = await deliveries(store)
        assert d.state == "pending"
        assert d.attempts == 1
        assert "500" in d.last_error
        assert d.next_attempt == clock.now + dt.timedelta(seconds=30)
        assert await svc.deliver_due() == 0  # not due yet: nothing is sent
        assert len(hook.on("/hook")) == 1

        clock.advance(31)
        assert await svc.deliver_due() == 1
        (d,) = await deliveries(store)
        assert d.state == "sent"
        assert d.attempts == 2
        assert d.sent_at == clock.now
        assert [r.body["event"] for r in hook.on("/hook")] == ["firing", "firing"]
    finally:
        await svc.close()


async def test_gives_up_after_max_attempts(store: Store, box: SecretBox, hook: Receivers) -> None:
    await configure(store, box, f"{hook.url}/hook")
    clock = Clock()
    svc = service(store, box, clock)
    try:
        await svc.observe(signal())
        hook.fail.extend([503, 503, 503])
        for _ in range(3):
            await svc.deliver_due()
            clock.advance(3600)
        (d,) = await deliveries(store)
        assert d.state == "failed"
        assert d.attempts == 3
        assert "503" in d.last_error
    finally:
        await svc.close()


async def test_incident_and_pending_delivery_survive_a_restart(
    db_url: str, box: SecretBox, hook: Receivers
) -> None:
    first = Store.connect(db_url)
    await first.migrate()
    await configure(first, box, f"{hook.url}/hook")
    await service(first, box, Clock()).observe(signal("c1", "pod"))
    await first.close()  # the center stops before delivering

    second = Store.connect(db_url)
    svc = service(second, box, Clock())
    try:
        (inc,) = await incidents(second)
        assert inc.state == "firing"
        assert await svc.deliver_due() == 1
        (req,) = hook.on("/hook")
        assert req.body["incident_id"] == inc.id
        assert req.body["cluster"] == "c1"
    finally:
        await svc.close()
        await second.close()


async def test_a_sender_that_died_mid_send_is_retried_after_its_lease(
    store: Store, box: SecretBox, hook: Receivers
) -> None:
    from kubeprobe.center.store import incident_log

    await configure(store, box, f"{hook.url}/hook")
    clock = Clock()
    svc = service(store, box, clock)
    try:
        await svc.observe(signal())
        async with store.transaction() as s:  # claimed, then the process "dies"
            assert len(await incident_log.claim_deliveries(s, clock.now, 120, 10)) == 1
        assert await svc.deliver_due() == 0
        clock.advance(121)
        assert await svc.deliver_due() == 1
    finally:
        await svc.close()


async def test_fleet_incident_dedup_and_resolution_are_stored(
    store: Store, box: SecretBox, hook: Receivers
) -> None:
    await configure(store, box, f"{hook.url}/hook")
    clock = Clock()
    svc = service(store, box, clock)
    try:
        for i in range(3):
            await svc.observe(signal(f"c{i}", minutes=i, recent_changes=("release-7",)))
        await svc.observe(signal("c0", minutes=4))  # repeated: counted, not a new incident
        rows = await incidents(store)
        fleet = next(r for r in rows if r.scope == "fleet")
        assert fleet.shared == "recent changes on every cluster: release-7"
        assert {r.parent_id for r in rows if r.scope != "fleet"} == {fleet.id}
        assert len(rows) == 4
        events = [(d.incident_id, d.event) for d in await deliveries(store)]
        assert events.count((fleet.id, "firing")) == 1
        assert len(events) == 3  # c0, c1 fired before the fleet formed; c2 folded into the fleet
        for i in range(3):
            await svc.observe(signal(f"c{i}", outcome=Outcome.PASSED, minutes=10))
        assert {r.state for r in await incidents(store)} == {"resolved"}
        resolved = [d for d in await deliveries(store) if d.event == "resolved"]
        assert {d.incident_id for d in resolved} == {fleet.id, rows[0].id, rows[1].id}
    finally:
        await svc.close()


async def test_flake_is_recorded_without_an_incident(store: Store, box: SecretBox) -> None:
    svc = service(store, box, Clock())
    await svc.observe(signal(outcome=Outcome.FLAKE))
    assert await incidents(store) == []
    async with store.transaction() as s:
        (sig,) = (await s.execute(select(IncidentSignal))).scalars()
    assert sig.outcome == "flake"
    assert sig.incident_id is None
    assert "flake" in sig.note


async def test_reminder_is_queued_for_an_unacknowledged_incident(
    store: Store, box: SecretBox, hook: Receivers
) -> None:
    await configure(store, box, f"{hook.url}/hook")
    clock = Clock()
    svc = service(store, box, clock)
    await svc.observe(signal(priority="P1"))
    assert await svc.remind() == 0
    clock.advance(901)
    assert await svc.remind() == 1
    assert [d.event for d in await deliveries(store)] == ["firing", "reminder"]


async def test_mute_silence_records_quietly_and_pause_window_pauses_runs(
    store: Store, box: SecretBox, hook: Receivers
) -> None:
    await configure(store, box, f"{hook.url}/hook")
    now = dt.datetime.now(dt.UTC)
    clock = Clock()
    clock.now = now + dt.timedelta(seconds=60)
    svc = service(store, box, clock)
    async with store.transaction() as s:
        await silence_store.create_silence(
            s, SilenceIn(matchers=["cluster=c1"], ends=now + dt.timedelta(hours=1)), ADMIN
        )
        body = SilenceIn(
            matchers=["env=prod", "case=~etcd-.*"], mode="pause", ends=now + dt.timedelta(hours=1)
        )
        await silence_store.create_silence(s, body, ADMIN)
    await svc.observe(signal("c1", at=now + dt.timedelta(seconds=60)))
    (inc,) = await incidents(store)
    assert inc.muted_by is not None
    assert await deliveries(store) == []
    assert await svc.run_paused("c2", "etcd-probe", {"env": "prod"}) is True
    assert await svc.run_paused("c2", "pod", {"env": "prod"}) is False
    assert await svc.run_paused("c1", "etcd-probe", {"env": "dev"}) is False  # the mute one never pauses


async def test_api_incidents_list_show_ack(
    api: Client, store: Store, box: SecretBox, token_of, hook: Receivers
) -> None:  # type: ignore[no-untyped-def]
    await configure(store, box, f"{hook.url}/hook")
    svc = service(store, box, Clock())
    await svc.observe(signal("c1", "pod"))
    await svc.observe(signal("c2", "pod", cause="etcd.unavailable", priority="P1"))
    await svc.deliver_due()
    await svc.close()
    viewer, operator = api(await token_of("viewer")), api(await token_of("operator"))
    page = await ok(await viewer.get("/api/v1/incidents", params={"state": "firing"}))
    assert [i["cluster"] for i in page["items"]] == ["c2", "c1"]
    assert page["items"][0]["title"].startswith("[P1] etcd.unavailable on c2")
    page = await ok(await viewer.get("/api/v1/incidents", params={"priority": "P1", "case": "pod"}))
    assert len(page["items"]) == 1
    inc_id = page["items"][0]["id"]
    detail = await ok(await viewer.get(f"/api/v1/incidents/{inc_id}"))
    assert detail["signals"][0]["outcome"] == "failed"
    assert detail["deliveries"][0]["state"] == "sent"
    await ok(await viewer.post(f"/api/v1/incidents/{inc_id}/ack"), 403)
    acked = await ok(await operator.post(f"/api/v1/incidents/{inc_id}/ack", json={"comment": "on it"}))
    assert acked["state"] == "acknowledged"
    assert acked["acked_by"].endswith("(operator)")
    assert [d["event"] for d in acked["deliveries"]] == ["firing", "acknowledged"]
    audit = await ok(await api().get("/api/v1/audit", params={"resource": "incident"}))
    assert audit[0]["action"] == "acknowledge"
    assert audit[0]["detail"]["comment"] == "on it"
    await ok(await operator.get("/api/v1/incidents/99999"), 404)
    bad = await ok(await viewer.get("/api/v1/incidents", params={"state": "burning"}), 422)
    assert "state" in str(bad)


async def test_api_silences_crud_and_bad_input(api: Client, token_of) -> None:  # type: ignore[no-untyped-def]
    operator, viewer = api(await token_of("operator")), api(await token_of("viewer"))
    body = {
        "matchers": ["cluster=c1", "cause=~etcd\\..*"],
        "mode": "pause",
        "weekly": {"days": ["sat"], "at": "02:00"},
        "duration_s": 7200,
        "timezone": "Europe/Berlin",
        "comment": "etcd defrag",
    }
    created = await ok(await operator.post("/api/v1/silences", json=body), 201)
    assert created["cron"] == "0 2 * * 6"
    assert created["mode"] == "pause"
    one_off = {
        "matchers": ["case=pod"],
        "ends": (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat(),
    }
    second = await ok(await operator.post("/api/v1/silences", json=one_off), 201)
    assert second["active"] is True
    await ok(await viewer.post("/api/v1/silences", json=one_off), 403)
    listed = await ok(await viewer.get("/api/v1/silences"))
    assert [s["id"] for s in listed] == [created["id"], second["id"]]
    await ok(await operator.delete(f"/api/v1/silences/{second['id']}"), 204)
    await ok(await operator.delete(f"/api/v1/silences/{second['id']}"), 404)
    for bad, field in [
        ({"matchers": ["case=~("]}, "matchers"),
        ({"matchers": ["case=pod"]}, "ends"),
        ({"matchers": ["case=pod"], "cron": "every day", "duration_s": 60}, "cron"),
        (
            {"matchers": ["case=pod"], "weekly": {"days": ["someday"], "at": "02:00"}, "duration_s": 60},
            "days",
        ),
        ({"matchers": []}, "matchers"),
        ({"matchers": ["case=pod"], "mode": "snooze", "ends": one_off["ends"]}, "mode"),
    ]:
        resp = await operator.post("/api/v1/silences", json=bad)
        assert resp.status_code == 422, resp.text
        assert field in resp.text
    audit = await ok(await api().get("/api/v1/audit", params={"resource": "silence"}))
    assert sorted(a["action"] for a in audit) == ["create", "create", "delete"]


async def test_api_receivers_never_return_secrets_and_routes_check_receivers(
    api: Client, store: Store, token_of
) -> None:  # type: ignore[no-untyped-def]
    admin = api()
    body = {"name": "pd", "kind": "pagerduty", "secrets": {"routing_key": "R-very-secret-routing-key"}}
    created = await ok(await admin.post("/api/v1/receivers", json=body), 201)
    assert created["secret_fields"] == ["routing_key"]
    slack = {
        "name": "chat",
        "kind": "slack",
        "settings": {"channel": "C1"},
        "secrets": {"bot_token": "xoxb-secret-bot"},
    }
    await ok(await admin.post("/api/v1/receivers", json=slack), 201)
    listed = await admin.get("/api/v1/receivers")
    assert "very-secret" not in listed.text
    assert "xoxb-secret" not in listed.text
    async with store.transaction() as s:
        stored = [r.secrets for r in (await s.execute(select(ReceiverRow))).scalars()]
    assert all(b"very-secret" not in blob and b"xoxb" not in blob for blob in stored)
    # replace without secrets keeps them
    kept = await ok(
        await admin.put(
            "/api/v1/receivers/chat", json={**slack, "secrets": {}, "settings": {"channel": "C2"}}
        )
    )
    assert kept["secret_fields"] == ["bot_token"]
    assert kept["settings"] == {"channel": "C2"}
    bad = await ok(
        await admin.post("/api/v1/receivers", json={"name": "x", "kind": "email", "settings": {"host": "h"}}),
        422,
    )
    assert "settings.to" in str(bad) or "settings.sender" in str(bad)
    await ok(await api(await token_of("operator")).get("/api/v1/receivers"), 403)

    route = {"name": "page-p1", "priorities": ["P1"], "receivers": ["pd"], "continue_matching": True}
    await ok(await admin.post("/api/v1/routes", json=route), 201)
    await ok(
        await admin.post("/api/v1/routes", json={"name": "rest", "receivers": ["chat"], "is_default": True}),
        201,
    )
    second_default = {"name": "rest2", "receivers": ["chat"], "is_default": True}
    await ok(await admin.post("/api/v1/routes", json=second_default), 409)
    missing = await ok(await admin.post("/api/v1/routes", json={"name": "r", "receivers": ["nope"]}), 422)
    assert "nope" in str(missing)
    await ok(
        await admin.post("/api/v1/routes", json={"name": "r", "receivers": ["pd"], "matchers": ["x=~("]}), 422
    )
    await ok(await admin.delete("/api/v1/receivers/pd"), 409)  # still routed to
    routes = await ok(await admin.get("/api/v1/routes"))
    assert [r["name"] for r in routes] == ["page-p1", "rest"]
    async with store.transaction() as s:
        table = await routing.route_table(s)
    assert table.receivers("P1", {}) == ["pd"]
    assert table.receivers("P3", {}) == ["chat"]
    audit = await ok(await admin.get("/api/v1/audit", params={"resource": "receiver"}))
    assert "very-secret" not in str(audit)
    assert len(audit) == 3


async def test_a_late_failure_does_not_reopen_a_resolved_cause(store: Store, box: SecretBox) -> None:
    """A run that started while the incident was open, analysed after it resolved, is recorded only;
    a run that started after the resolution is news."""
    svc = service(store, box, Clock())
    minute = dt.timedelta(minutes=1)
    await svc.observe(signal(cause="admission.quota_exceeded", started=T0))
    await svc.observe(signal(outcome=Outcome.PASSED, minutes=5, started=T0 + 4 * minute))
    late = signal(case="late", cause="admission.quota_exceeded", minutes=7, started=T0 + 3 * minute)
    await svc.observe(late)
    rows = await incidents(store)
    assert [(r.cause, r.state) for r in rows] == [("admission.quota_exceeded", "resolved")]
    async with store.transaction() as s:
        query = select(IncidentSignal.note).where(IncidentSignal.case == "late")
        note = (await s.execute(query)).scalar_one()
    assert note.startswith("late:")
    fresh = signal(case="new", cause="admission.quota_exceeded", minutes=8, started=T0 + 6 * minute)
    await svc.observe(fresh)
    assert [r.state for r in await incidents(store)] == ["resolved", "firing"]
