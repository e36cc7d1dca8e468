"""The analysis worker on SQLite and PostgreSQL: claiming with replicas, crash retry, verdicts, API, feedback.

The clusters here point at a port where nothing listens, so evidence is "unreachable" and the
verification re-run cannot run: the failure stands (never a flake, never a crash, no cause guessed
from the unreachable cluster).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from kubeprobe.alerting.signals import Outcome, Signal
from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.errors import StoreUnavailableError
from kubeprobe.center.services.analysis import AnalysisWorker
from kubeprobe.center.settings import AnalysisSettings, CenterSettings
from kubeprobe.center.store import analysis as store_analysis
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.tables import Run, RunAnalysis
from tests.center.conftest import ADMIN_TOKEN, Client
from tests.center.helpers import ok, result, seed

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


class Sink:
    """Collects signals as the incident service would receive them."""

    def __init__(self) -> None:
        self.signals: list[Signal] = []

    async def observe(self, signal: Signal) -> None:
        self.signals.append(signal)


def settings(tmp_path: Path, **kw: Any) -> AnalysisSettings:
    return AnalysisSettings(model_cache=tmp_path / "models", rerun_timeout_seconds=10, **kw)


async def ingest(api: Client, runs: list[dict[str, Any]]) -> None:
    await ok(await api(ADMIN_TOKEN).post("/api/v1/results", json={"results": runs}), 202)


def failed(
    i: int, message: str, cluster: str = "c0", case: str = "pod", minutes: float = 1
) -> dict[str, Any]:
    return result(
        case,
        cluster,
        "failed",
        NOW - dt.timedelta(minutes=minutes),
        id=f"{i:032x}",
        messages=[message],
        steps=[
            {"name": "create", "ok": False, "duration_ms": 5, "error": message},
        ],
    )


async def test_replicas_claim_each_run_once_and_a_crash_is_retried(api: Client, store: Store) -> None:
    await seed(api(ADMIN_TOKEN), clusters=2)
    await ingest(api, [failed(i, "boom", cluster=f"c{i % 2}", minutes=i / 10) for i in range(12)])
    lease, look = dt.timedelta(minutes=10), dt.timedelta(hours=1)

    async def grab(replica: str) -> list[str]:
        async with store.transaction() as s:
            return await store_analysis.claim(s, replica, limit=20, lookback=look, lease=lease)

    got = await asyncio.gather(*(grab(f"r{i}") for i in range(3)))
    flat = [run for runs in got for run in runs]
    assert len(flat) == len(set(flat)) == 12  # every run claimed, none twice
    assert await grab("r3") == []  # nothing left
    # r0 "crashes": its claims grow older than the lease and r9 takes them over, attempt 2
    async with store.transaction() as s:
        await s.execute(
            update(RunAnalysis)
            .where(RunAnalysis.claimed_by == "r0")
            .values(claimed_at=NOW - dt.timedelta(hours=1))
        )
    retaken = await grab("r9")
    assert sorted(retaken) == sorted(got[0])
    async with store.transaction() as s:
        attempts = (
            await s.execute(select(RunAnalysis.attempts).where(RunAnalysis.claimed_by == "r9"))
        ).scalars()
        assert set(attempts) == ({2} if got[0] else set())
        # the crashed replica cannot store a verdict any more: its claim is gone
        if got[0]:
            assert not await store_analysis.save(s, got[0][0], "r0", {"outcome": "failed"})


async def test_failed_run_on_an_unreachable_cluster_is_diagnosed_and_not_a_flake(
    api: Client, store: Store, box: SecretBox, tmp_path: Path
) -> None:
    # the api fixture encrypted credentials with its own box: use the app's
    await seed(api(ADMIN_TOKEN), clusters=2)
    quota = (
        'pods "kp-pod-1" is forbidden: exceeded quota: q, requested: pods=1, used: pods=3, limited: pods=3'
    )
    await ingest(
        api,
        [
            failed(1, quota),
            failed(2, "anything", cluster="c1"),
            result("pod3", "c0", "succeeded", NOW, id=f"{3:032x}"),
        ],
    )
    sink = Sink()
    worker = AnalysisWorker(store, app_box(api), sink, settings=settings(tmp_path))
    done = await worker.analyse_pending()
    assert sorted(done) == [f"{i:032x}" for i in (1, 2, 3)]
    by_run = {s.run_id: s for s in sink.signals}
    quota_signal = by_run[f"{1:032x}"]
    assert quota_signal.outcome is Outcome.FAILED  # the re-run could not run: the failure stands
    assert quota_signal.cause == "admission.quota_exceeded"
    assert quota_signal.confidence >= 0.9
    assert quota_signal.step == "create"
    assert quota_signal.priority in {"P1", "P2", "P3", "P4"}
    assert quota_signal.evidence["reachable"] is False
    assert by_run[f"{3:032x}"].outcome is Outcome.PASSED
    assert await worker.analyse_pending() == []  # analysed once only

    viewer = api(await make_token(api, "viewer"))
    body = await ok(await viewer.get(f"/api/v1/runs/{1:032x}/analysis"))
    assert body["state"] == "done"
    assert (body["cause"], body["source"], body["outcome"]) == ("admission.quota_exceeded", "rule", "failed")
    assert body["evidence"]["reachable"] is False
    assert body["evidence"]["facts"] == {}  # no fact guessed from an unreachable cluster
    # still unreachable at the re-query: reproduced, a re-run would only wait out its deadline
    assert (body["verification"]["method"], "rerun" in body["verification"]) == ("requery", False)
    assert body["verification"]["reproduced"] is True
    run = await ok(await viewer.get(f"/api/v1/runs/{1:032x}"))
    assert run["root_cause"] == "admission.quota_exceeded"
    resp = await viewer.get("/api/v1/runs/nope/analysis")
    assert resp.status_code == 404
    assert "no run with id 'nope'" in resp.json()["detail"]


async def test_feedback_needs_operator_names_bad_causes_and_retrains(
    api: Client, store: Store, tmp_path: Path
) -> None:
    await seed(api(ADMIN_TOKEN), clusters=1)
    await ingest(api, [failed(7, "the probe saw something odd: zq-frobnication gate closed")])
    run = f"{7:032x}"
    viewer = api(await make_token(api, "viewer"))
    operator = api(await make_token(api, "operator"))
    denied = await viewer.post(f"/api/v1/runs/{run}/analysis/feedback", json={"cause": "network.dns"})
    assert denied.status_code == 403
    bad = await operator.post(f"/api/v1/runs/{run}/analysis/feedback", json={"cause": "network.dnz"})
    assert bad.status_code == 422
    assert "'network.dnz' is not a root-cause label" in bad.json()["detail"]
    body = await ok(
        await operator.post(f"/api/v1/runs/{run}/analysis/feedback", json={"cause": "network.dns"}), 201
    )
    assert body["failure"]["step"] == "create"
    async with store.transaction() as s:
        lines = await store_analysis.feedback_lines(s)
    assert lines == [{**body["failure"], "cause": "network.dns"}]
    worker = AnalysisWorker(store, app_box(api), None, settings=settings(tmp_path, verify=False))
    first = await worker._classifier_for([])
    retrained = await worker._classifier_for(lines)
    assert retrained is not first
    assert list((tmp_path / "models").glob("rca-model-*.pickle"))  # cached on disk
    # a restarted center loads it before any failure needs it; with no cache it trains nothing ahead
    restarted = AnalysisWorker(store, app_box(api), None, settings=settings(tmp_path, verify=False))
    assert await restarted.warm() is True
    assert restarted._classifier is not None
    assert restarted._feedback_count == 1
    fresh = AnalysisWorker(store, app_box(api), None, settings=settings(tmp_path / "new", verify=False))
    assert await fresh.warm() is False
    assert fresh._classifier is None
    shown = await ok(await viewer.get(f"/api/v1/runs/{run}/analysis"))
    assert shown["state"] == "pending"
    assert shown["feedback"][0]["cause"] == "network.dns"


def app_box(api: Client) -> SecretBox:
    transport = api(ADMIN_TOKEN)._transport
    box: SecretBox = transport.app.state.box  # type: ignore[attr-defined]
    return box


async def make_token(api: Client, role: str) -> str:
    resp = await api(ADMIN_TOKEN).post("/api/v1/tokens", json={"name": f"t-{role}", "role": role})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["token"])


async def test_runs_finished_long_ago_are_not_analysed(api: Client, store: Store, tmp_path: Path) -> None:
    await seed(api(ADMIN_TOKEN), clusters=1)
    await ingest(api, [failed(9, "old", minutes=600)])
    async with store.transaction() as s:
        assert (await s.execute(select(Run.id))).scalars().all() == [f"{9:032x}"]
        claimed = await store_analysis.claim(
            s, "r", limit=5, lookback=dt.timedelta(hours=1), lease=dt.timedelta(minutes=5)
        )
    assert claimed == []


async def test_signals_link_to_the_dashboards_run_page(api: Client, store: Store, tmp_path: Path) -> None:
    await seed(api(ADMIN_TOKEN), clusters=1)
    await ingest(api, [result("pod", "c0", "succeeded", NOW, id=f"{7:032x}")])
    sink = Sink()
    links = CenterSettings(public_url="https://probe.example.com").links  # KUBEPROBE_PUBLIC_URL alone
    worker = AnalysisWorker(store, app_box(api), sink, settings=settings(tmp_path), links=links)
    assert await worker.analyse_pending() == [f"{7:032x}"]
    (signal,) = sink.signals
    assert signal.run_url == f"https://probe.example.com/ui/#/run/{7:032x}"


async def test_a_store_that_was_unavailable_is_tried_again_next_round(
    api: Client, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An analysis that met an unavailable store (SQLite busy, the database away) is done again
    at the next round, not after its claim's 600 s lease; the other runs of the batch go on."""
    await seed(api(ADMIN_TOKEN), clusters=1)
    await ingest(api, [failed(i, "boom", minutes=i / 10) for i in (1, 2)])
    real_save = store_analysis.save
    refused: list[str] = []

    async def save_once_busy(session: Any, run_id: str, replica: str, values: dict[str, Any]) -> bool:
        if run_id == f"{2:032x}" and not refused:
            refused.append(run_id)
            raise StoreUnavailableError("database is locked")
        return await real_save(session, run_id, replica, values)

    monkeypatch.setattr(store_analysis, "save", save_once_busy)
    sink = Sink()
    worker = AnalysisWorker(store, app_box(api), sink, settings=settings(tmp_path))
    assert await worker.analyse_pending() == [f"{1:032x}"]
    assert refused == [f"{2:032x}"]
    assert await worker.analyse_pending() == [f"{2:032x}"]  # next round, same claim
    assert sorted(s.run_id for s in sink.signals) == [f"{1:032x}", f"{2:032x}"]
    assert await worker.analyse_pending() == []
