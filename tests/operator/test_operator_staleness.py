"""Silence is not health, with a real operator: ``kubeprobe operator run`` (a process) runs a
ProbeConfig against the sandbox and reports to a real center; the center's staleness loop (the one
its leader runs) watches it. Stopping the operator opens one ``staleness.resident`` incident within
two of the probe's summary intervals (named as such, never a failed probe); starting it again
resolves the incident."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from pathlib import Path
from typing import Any

from kubeprobe.center.services.alerting import IncidentService
from kubeprobe.center.services.staleness import StalenessService
from kubeprobe.center.settings import StalenessSettings
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.waiting import wait_for
from kubeprobe.sandbox.cluster import Sandbox
from tests.operator.conftest import CLUSTER, CenterServer
from tests.operator.operator_process import OperatorProcess, create_config, drop_finalizers, probe_config

SUMMARY_S = 2.0
POLL_S = 0.5
KEY = f"cluster/{CLUSTER}/staleness.resident"


async def _incidents(center: CenterServer, state: str) -> dict[str, dict[str, Any]]:
    async with center.client() as c:
        resp = await c.get("/api/v1/incidents", params={"state": state})
        resp.raise_for_status()
        return {i["key"]: i for i in resp.json()["items"]}


def _period(summary: dict[str, Any]) -> float:
    body = summary["body"]
    start, end = (dt.datetime.fromisoformat(body[k]) for k in ("period_start", "period_end"))
    return (end - start).total_seconds()


async def test_stopping_the_operator_opens_a_staleness_incident_and_restarting_resolves_it(
    sandbox: Sandbox, crd: KubeClient, namespace: str, center: CenterServer, tmp_path: Path
) -> None:
    op = OperatorProcess(
        sandbox.kubeconfig, center, tmp_path / "buf.db", tmp_path / "op.log", namespace=namespace
    )
    silence = StalenessService(
        center.store, IncidentService(center.store, center.box), StalenessSettings(poll_seconds=POLL_S)
    )
    watching = asyncio.create_task(silence.run_forever())
    op.start()
    try:
        spec = {"intervalSeconds": 1, "timeoutSeconds": 1, "summaryIntervalSeconds": SUMMARY_S}
        await create_config(crd, namespace, probe_config("api-read", "apiserver-read", **spec))
        await wait_for(  # reporting for a while: three summaries, nothing stale
            lambda: center.reports(kind="summary"), lambda r: len(r) >= 3, timeout=90, what="summaries"
        )
        assert await _incidents(center, "firing") == {}
        await op.stop()
        stopped = dt.datetime.now(dt.UTC)
        reports = await center.reports()
        firing = await wait_for(
            lambda: _incidents(center, "firing"), lambda i: KEY in i, timeout=30, interval=0.1, what=KEY
        )
        seen = dt.datetime.now(dt.UTC)
        assert len(await center.reports()) == len(reports), "the stopped operator still reported"
        last = max(dt.datetime.fromisoformat(r["received"]) for r in reports)
        interval = _period(max((r for r in reports if r["kind"] == "summary"), key=lambda r: r["at"]))
        silent, took = (seen - last).total_seconds(), (seen - stopped).total_seconds()
        # more than two intervals (the latest summary's period, as the center reads it) of silence,
        # and seen within one look of the loop after that (plus slack for a busy machine)
        bound = 2 * interval + POLL_S + 1.5
        assert 2 * interval < silent <= bound, f"stale after {silent:.1f} s of silence ({interval:.1f} s)"
        assert took <= bound, f"staleness.resident {took:.1f} s after the stop"
        assert list(firing) == [KEY]  # named as staleness; no failed probe, no other incident
        incident = firing[KEY]
        assert incident["cause"] == "staleness.resident"
        (member,) = incident["members"]
        assert f"no report of resident probe {member['case']} on {CLUSTER}" in member["message"]
        op.start()  # reports resume: the incident resolves
        await wait_for(
            lambda: _incidents(center, "firing"),
            lambda i: KEY not in i,
            timeout=90,
            interval=0.2,
            what="resolved",
        )
        assert KEY in await _incidents(center, "resolved")
        print(f"staleness.resident {took:.1f} s after the stop, {silent:.1f} s after the last report")
        print(f"(the probe's interval: {interval:.1f} s)")
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
        await op.stop()
        await drop_finalizers(crd, namespace)
