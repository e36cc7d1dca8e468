"""Silence is not health, with a real API server stopped: a dispatching center runs apiserver-probe
on the sandbox every 10 s; when the sandbox's kube-apiserver is stopped the runs end in ``error``
(KubeProbe could not reach the cluster: unknown, never a failed probe) and the cluster opens a
``staleness.cluster`` incident within two intervals of its last answer; the API server started
again, the next run answers and the incident resolves."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx

from kubeprobe.center.services.builtin import builtin_templates
from kubeprobe.center.settings import CenterSettings, StalenessSettings
from kubeprobe.kube.waiting import wait_for
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults
from tests.center.server import running_center

TOKEN = "kp_staleness-apiserver-admin"
INTERVAL_S = 10.0
POLL_S = 0.5
KEY = "cluster/box/staleness.cluster"


async def _ok(resp: httpx.Response) -> Any:
    assert resp.status_code < 300, resp.text
    return resp.json()


async def _runs(http: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    page = await _ok(await http.get("/api/v1/runs", params={"cluster": "box", "limit": 200, **params}))
    return list(page["items"])


async def _firing(http: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    page = await _ok(await http.get("/api/v1/incidents", params={"state": "firing"}))
    return {i["key"]: i for i in page["items"]}


def _silence(firing: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(incident, member) holding the cluster's silence: its own staleness incident, or the
    incident of the API server found down, which the silence follows from."""
    for incident in firing.values():
        for member in incident["members"]:
            if "no answer from cluster box" in member.get("message", ""):
                return incident, member
    return None


def _t(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


async def test_a_cluster_whose_api_server_stops(sandbox: Sandbox, tmp_path: Path) -> None:
    settings = CenterSettings(
        data_dir=tmp_path / "data",
        admin_token=TOKEN,
        runner_mode="local",
        staleness=StalenessSettings(poll_seconds=POLL_S),
    )
    with running_center(settings, builtin_templates(), dispatch=True) as url:
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        ) as http:
            cluster = {"name": "box", "kubeconfig": sandbox.kubeconfig.read_text()}
            await _ok(await http.post("/api/v1/clusters", json=cluster))
            binding = {
                "name": "api-box",
                "case": "apiserver-probe",
                "cluster": "box",
                "interval_seconds": INTERVAL_S,
            }
            await _ok(await http.post("/api/v1/bindings", json=binding))
            await wait_for(
                lambda: _runs(http, state="succeeded"), bool, timeout=60, what="a first run that answered"
            )
            faults = Faults(sandbox)
            faults.stop("kube-apiserver")
            stopped = dt.datetime.now(dt.UTC)
            try:
                firing = await wait_for(
                    lambda: _firing(http),
                    lambda i: _silence(i) is not None,
                    timeout=4 * INTERVAL_S,
                    interval=0.2,
                    what="the cluster's silence",
                )
                seen = dt.datetime.now(dt.UTC)
                runs = await _runs(http)
            finally:
                await faults.start("kube-apiserver")
            answered = max(_t(r["finished"]) for r in runs if r["state"] == "succeeded")
            after = [r for r in runs if _t(r["created"]) > answered]
            silent = (seen - answered).total_seconds()
            print(
                f"staleness.cluster {(seen - stopped).total_seconds():.1f} s after the stop, "
                f"{silent:.1f} s after the last answer; runs meanwhile: {[r['state'] for r in after]}; "
                f"firing: {[i['title'] for i in firing.values()]}"
            )
            assert after, "no run while the API server was away"
            # could not reach it: unknown (error), never a failed probe
            assert {r["state"] for r in after} <= {"error", "pending", "dispatched", "running"}, after
            assert any(r["state"] == "error" for r in after), after
            assert 2 * INTERVAL_S < silent <= 2 * INTERVAL_S + POLL_S + 3, f"stale after {silent:.1f} s"
            # its own incident, or a member of the analysis' diagnosis of the error runs when that
            # came first: the API server found down from the center (a true cause, from the
            # component check; the silence follows from it), never the case failing
            assert len(firing) == 1, firing  # whichever came first holds the other
            assert set(firing) <= {KEY, "cluster/box/apiserver.unavailable"}, firing
            found = _silence(firing)
            assert found is not None
            home, member = found
            assert home["cause"] in {"staleness.cluster", "apiserver.unavailable"}, home
            assert (member["case"], member["step"]) == ("(cluster)", "staleness"), member
            await wait_for(  # the API server answers the next run: the incidents resolve
                lambda: _firing(http),
                lambda i: not i,
                timeout=6 * INTERVAL_S,
                interval=0.5,
                what="resolved",
            )
