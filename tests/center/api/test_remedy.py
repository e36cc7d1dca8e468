"""Remediations through the API against the sandbox: an approval executes exactly once (a second
approve, even at the same moment, is a no-op), a denial acts on nothing, bad input is refused."""

from __future__ import annotations

import asyncio
from typing import Any

from kubeprobe.center.store.database import Store
from kubeprobe.center.store.remedy import SqlDefenderStore
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.waiting import wait_for
from kubeprobe.sandbox.cluster import Sandbox
from tests.center.conftest import Client
from tests.center.helpers import ok
from tests.remedy.sandbox_helpers import crash_looping_pod, pod_delete, pods_of

TERMINAL = {"verified", "failed", "denied", "precondition", "shadow", "fenced", "error", "unverified"}


async def _until_done(client: Any, rid: int) -> dict[str, Any]:
    async def look() -> dict[str, Any]:
        body: dict[str, Any] = await ok(await client.get(f"/api/v1/remediations/{rid}"))
        return body

    return await wait_for(look, lambda r: r["state"] in TERMINAL, timeout=90, what="remediation finished")


async def test_an_approval_executes_exactly_once(
    api: Client, store: Store, sandbox: Sandbox, kube: KubeClient, namespace: str
) -> None:
    admin = api()
    await ok(
        await admin.post(
            "/api/v1/clusters", json={"name": "sandbox", "kubeconfig": sandbox.kubeconfig.read_text()}
        ),
        201,
    )
    victim = await crash_looping_pod(kube, namespace, "web", 2)
    body = pod_delete(victim)
    rem = await ok(await admin.post("/api/v1/remediations", json=body), 201)
    assert rem["state"] == "awaiting-approval"
    first, second = await asyncio.gather(
        admin.post(f"/api/v1/remediations/{rem['id']}/approve"),
        admin.post(f"/api/v1/remediations/{rem['id']}/approve"),
    )
    changed = sorted([(await ok(first))["changed"], (await ok(second))["changed"]])
    assert changed == [False, True]
    done = await _until_done(admin, rem["id"])
    assert done["state"] == "verified", done
    assert done["approver"]
    third = await ok(await admin.post(f"/api/v1/remediations/{rem['id']}/approve"))
    assert third["changed"] is False
    assert third["remediation"]["state"] == "verified"
    uids = {p["metadata"]["uid"] for p in await pods_of(kube, namespace, "web")}
    assert victim["metadata"]["uid"] not in uids
    audit = await SqlDefenderStore(store).audit()
    assert [r.outcome for r in audit if r.event == "decision"] == ["granted"]
    assert [r.outcome for r in audit if r.event == "outcome"] == ["verified"]


async def test_a_denied_remediation_acts_on_nothing_and_bad_input_is_refused(api: Client) -> None:
    admin = api()
    bad = await admin.post("/api/v1/remediations", json={"cluster": "x", "action": "reboot", "name": "n"})
    assert bad.status_code == 422
    assert "unknown action 'reboot'" in bad.text
    rem = await ok(
        await admin.post("/api/v1/remediations", json={"cluster": "x", "action": "node-drain", "name": "n1"}),
        201,
    )
    denied = await ok(await admin.post(f"/api/v1/remediations/{rem['id']}/deny"))
    assert denied["changed"] is True
    assert denied["remediation"]["state"] == "denied"
    late = await ok(await admin.post(f"/api/v1/remediations/{rem['id']}/approve"))
    assert late["changed"] is False
    assert late["remediation"]["state"] == "denied"
    assert (await admin.get("/api/v1/remediations/999")).status_code == 404
    listed = await ok(await admin.get("/api/v1/remediations", params={"state": "denied"}))
    assert [r["id"] for r in listed] == [rem["id"]]


async def test_an_auto_remediation_on_an_unknown_cluster_ends_in_error(api: Client) -> None:
    admin = api()
    body = {"cluster": "nowhere", "action": "pod-delete", "name": "p", "namespace": "ns", "mode": "auto"}
    rem = await ok(await admin.post("/api/v1/remediations", json=body), 201)
    done = await _until_done(admin, rem["id"])
    assert done["state"] == "error"
    assert "nowhere" in done["result"]["error"]


async def test_a_preview_shows_the_plan_and_the_defenders_answer_and_stores_nothing(
    api: Client, store: Store, sandbox: Sandbox, kube: KubeClient, namespace: str
) -> None:
    admin = api()
    body = {"name": "sandbox", "kubeconfig": sandbox.kubeconfig.read_text()}
    await ok(await admin.post("/api/v1/clusters", json=body), 201)
    victim = await crash_looping_pod(kube, namespace, "peek")
    ask = pod_delete(victim)
    seen = await ok(await admin.post("/api/v1/remediations/preview", json=ask))
    assert seen["allowed"] is True, seen
    assert seen["problems"] == []
    assert any(victim["metadata"]["name"] in line for line in seen["plan"])
    await ok(
        await admin.post("/api/v1/remedy/pause", json={"cluster": "sandbox", "reason": "change freeze"}), 204
    )
    frozen = await ok(await admin.post("/api/v1/remediations/preview", json=ask))
    assert frozen["allowed"] is False
    assert [d.split(":")[0] for d in frozen["denials"]] == ["freeze.pause"]
    assert await ok(await admin.get("/api/v1/remediations")) == []
    assert [r.event for r in await SqlDefenderStore(store).audit()] == ["pause"]  # previews leave no trace
    assert victim["metadata"]["uid"] in {p["metadata"]["uid"] for p in await pods_of(kube, namespace, "peek")}
    gone = await admin.post("/api/v1/remediations/preview", json={**ask, "cluster": "nowhere"})
    assert gone.status_code == 404
