"""Silence is not health, with a binding starved of runs in a real center: a dispatching center
runs two bindings on a sandbox cluster every 10 s, apiserver-probe (the cluster keeps answering) and
a case whose run can be made to hang before it reports (it waits while a hold file exists; its
deadline is 300 s away). Held, that run stays in flight and the binding's ``forbid`` policy starts
no other: its results stop while the cluster's do not. Exactly one ``staleness.binding`` incident
opens within two intervals of the held run's start (the start of a run in flight counts as heard
from, see :mod:`kubeprobe.center.store.staleness`), with that binding its only member, no
``staleness.cluster`` and no failed probe; released, the run reports, runs flow again and the
incident resolves."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import httpx

from kubeprobe.center.services.builtin import builtin_templates
from kubeprobe.center.settings import CenterSettings, StalenessSettings
from kubeprobe.kube.waiting import wait_for
from kubeprobe.model import RunState
from kubeprobe.sandbox.cluster import Sandbox
from tests.center.server import running_center

TOKEN = "kp_staleness-starved-admin"
INTERVAL_S = 10.0  # the shortest interval a binding takes
POLL_S = 0.5
KEY = "cluster/box/staleness.binding"
HELD_CODE = (
    "import pathlib, sys, time\n"
    "hold = pathlib.Path(sys.argv[1])\n"
    "while hold.exists(): time.sleep(0.05)\n"  # the hang: nothing is reported meanwhile
    "from kubeprobe.sdk import report_success\n"
    "report_success()\n"
)


async def _ok(resp: httpx.Response) -> Any:
    assert resp.status_code < 300, resp.text
    return resp.json()


async def _runs(http: httpx.AsyncClient, case: str) -> list[dict[str, Any]]:
    page = await _ok(await http.get("/api/v1/runs", params={"cluster": "box", "case": case, "limit": 200}))
    return list(page["items"])


async def _incidents(http: httpx.AsyncClient, **params: Any) -> dict[str, dict[str, Any]]:
    page = await _ok(await http.get("/api/v1/incidents", params={"limit": 100, **params}))
    return {i["key"]: i for i in page["items"]}


async def _seed(http: httpx.AsyncClient, sandbox: Sandbox, hold: Path) -> None:
    cluster = {"name": "box", "kubeconfig": sandbox.kubeconfig.read_text()}
    await _ok(await http.post("/api/v1/clusters", json=cluster))
    template = {
        "name": "held",
        "kind": "probe",
        "image": "kubeprobe/held:test",  # never pulled: runner_mode local runs the command here
        "command": [sys.executable, "-c", HELD_CODE, str(hold)],
        "timeout_seconds": 300,
    }
    await _ok(await http.post("/api/v1/templates", json=template))
    await _ok(await http.post("/api/v1/cases", json={"name": "held", "template": "held"}))
    for name, case in (("held-box", "held"), ("api-box", "apiserver-probe")):
        binding = {"name": name, "case": case, "cluster": "box", "interval_seconds": INTERVAL_S}
        await _ok(await http.post("/api/v1/bindings", json=binding))


def _t(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


async def test_a_binding_starved_of_runs(sandbox: Sandbox, tmp_path: Path) -> None:
    settings = CenterSettings(
        data_dir=tmp_path / "data",
        admin_token=TOKEN,
        runner_mode="local",
        staleness=StalenessSettings(poll_seconds=POLL_S),
    )
    hold = tmp_path / "hold"
    with running_center(settings, builtin_templates(), dispatch=True) as url:
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        ) as http:
            await _seed(http, sandbox, hold)
            for case in ("held", "apiserver-probe"):
                await wait_for(
                    lambda case=case: _runs(http, case),
                    lambda runs: any(r["state"] == "succeeded" for r in runs),
                    timeout=60,
                    what=f"a first {case} run that succeeded",
                )
            hold.touch()
            try:
                firing = await wait_for(
                    lambda: _incidents(http, state="firing"),
                    lambda i: KEY in i,
                    timeout=4 * INTERVAL_S + 10,
                    interval=0.2,
                    what="the binding's silence",
                )
                seen = dt.datetime.now(dt.UTC)
                # forbid: the held run is the binding's only unfinished one, started when it went quiet
                (held,) = [r for r in await _runs(http, "held") if not RunState(r["state"]).terminal]
                api_runs = await _runs(http, "apiserver-probe")
            finally:
                hold.unlink()
            assert held["state"] in ("dispatched", "running"), (
                held
            )  # in flight (a local run stays dispatched)
            start = _t(held["created"])
            silent = (seen - start).total_seconds()
            print(f"staleness.binding {silent:.1f} s after the held run started; firing: {list(firing)}")
            assert 2 * INTERVAL_S < silent <= 2 * INTERVAL_S + POLL_S + 3, f"stale after {silent:.1f} s"
            assert list(firing) == [KEY], firing  # not the cluster, not a failed probe
            incident = firing[KEY]
            assert incident["cause"] == "staleness.binding"
            (member,) = incident["members"]
            assert member["case"] == "held", member
            assert "stale: no result of held on box (binding held-box)" in member["message"], member
            # the cluster kept answering meanwhile
            assert any(r["state"] == "succeeded" and _t(r["finished"]) > start for r in api_runs), api_runs
            await wait_for(  # released: the held run reports, the binding's runs flow again
                lambda: _incidents(http, state="firing"),
                lambda i: not i,
                timeout=4 * INTERVAL_S,
                interval=0.2,
                what="resolved",
            )
            runs = await _runs(http, "held")
            assert all(r["state"] in ("succeeded", "pending", "dispatched", "running") for r in runs), runs
            every = await _incidents(http)
            assert [i["cause"] for i in every.values()] == ["staleness.binding"], every
            assert every[KEY]["state"] == "resolved", every[KEY]
