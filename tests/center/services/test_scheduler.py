"""Starting and claiming runs in batches, on SQLite and PostgreSQL: replicas that share a database
create each scheduled run once and claim each pending run once; the concurrency policy holds
inside a batch."""

from __future__ import annotations

import asyncio
import uuid

from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.services.dispatcher import Dispatcher
from kubeprobe.center.services.scheduler import start_firings
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.pending import start_runs
from kubeprobe.center.store.targets import expand
from kubeprobe.model import Trigger
from kubeprobe.runners.local import LocalRunner
from tests.center.conftest import Client

KUBECONFIG = """apiVersion: v1
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
users: [{name: u, user: {token: x}}]
"""


async def _seed(api: Client, cases: int, concurrency: str = "allow") -> None:
    http = api()
    for path, body in [
        ("/api/v1/clusters", {"name": "c1", "kubeconfig": KUBECONFIG}),
        ("/api/v1/templates", {"name": "t", "kind": "probe", "image": "x:1", "timeout_seconds": 120}),
    ]:
        resp = await http.post(path, json=body)
        assert resp.status_code == 201, resp.text
    for k in range(cases):
        resp = await http.post("/api/v1/cases", json={"name": f"case{k}", "template": "t"})
        assert resp.status_code == 201, resp.text
        resp = await http.post(
            "/api/v1/bindings",
            json={
                "name": f"b{k}",
                "case": f"case{k}",
                "cluster": "c1",
                "interval_seconds": 60,
                "concurrency": concurrency,
            },
        )
        assert resp.status_code == 201, resp.text


async def test_replicas_create_each_firing_once_and_claim_each_run_once(
    api: Client, store: Store, box: SecretBox
) -> None:
    await _seed(api, 40)
    targets = await expand(store)
    assert len(targets) == 40
    assert {t.case_timeout for t in targets} == {120}
    firings = [(uuid.uuid4().hex, t) for t in targets]
    # Two replicas compute the same firings and start them at once.
    first, second = await asyncio.gather(start_firings(store, firings), start_firings(store, firings))
    assert sorted(first + second) == sorted(run_id for run_id, _ in firings)
    assert await start_firings(store, firings) == []  # again: nothing new

    replicas = [Dispatcher(store, box, report_base_url="http://c", local=LocalRunner()) for _ in range(2)]
    claims = await asyncio.gather(*(d.claim(30) for d in replicas))
    claimed = [c.request.run_id for batch in claims for c in batch]
    more = [c.request.run_id for d in replicas for c in await d.claim(30)]
    assert sorted(claimed + more) == sorted(run_id for run_id, _ in firings)
    assert len(set(claimed + more)) == 40
    request = claims[0][0].request if claims[0] else claims[1][0].request
    assert request.case.timeout_seconds == 120
    assert request.report_token.startswith("kpr_")


async def test_forbid_holds_inside_one_batch(api: Client, store: Store) -> None:
    await _seed(api, 3, concurrency="forbid")
    targets = await expand(store)
    # The same targets twice in one fan-out: the second of each pair is skipped.
    started = await start_runs(store, targets + targets, Trigger.EVENT)
    assert len(started) == 3
    assert await start_runs(store, targets, Trigger.EVENT) == []  # the first ones are still unfinished


async def test_a_bad_watch_is_refused_with_the_reason(api: Client) -> None:
    await _seed(api, 1)
    http = api()
    body = {"name": "w", "case": "case0", "cluster": "c1"}
    resp = await http.post("/api/v1/bindings", json={**body, "watch": [{"resource": "Deployment"}]})
    assert resp.status_code == 422
    assert "watch[0].resource: 'Deployment' is not a resource name" in resp.json()["detail"]
    twice = [{"resource": "daemonsets", "api_version": "apps/v1", "namespace": "kube-system"}] * 2
    resp = await http.post("/api/v1/bindings", json={**body, "watch": twice})
    assert resp.status_code == 422
    assert "listed twice" in resp.json()["detail"]
    resp = await http.post("/api/v1/bindings", json={**body, "watch": twice[:1]})
    assert resp.status_code == 201, resp.text


def test_a_binding_that_cannot_be_planned_never_stops_the_others() -> None:
    """Issue 15, finding 4: a cron that never fires (stored before crons were checked) stopped all
    scheduling ("loading bindings failed" in a loop); now it is skipped and named in `problems`."""
    import datetime as dt

    from kubeprobe.center.services.scheduler import Scheduler
    from kubeprobe.center.triggers.targets import Target

    good = Target(1, 1, 1, 60.0, None, 0.0, None, "forbid")
    never = Target(2, 1, 1, None, "0 0 31 2 *", 0.0, None, "forbid")
    scheduler = Scheduler(None)  # type: ignore[arg-type]  # plan() reads no store
    heap = scheduler.plan([never, good], dt.datetime.now(dt.UTC).timestamp())
    assert [key for _, key, _ in heap] == [good.key]
    assert "0 0 31 2 *" in scheduler.problems[never.key]
