"""Batched ingestion's fast path: it refuses exactly what the models refuse, with their message,
stores what they would store, and stays idempotent under concurrent retries."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from kubeprobe.center.api.errors import describe
from kubeprobe.center.schemas.runs import ResultBatch, parse_result_batch
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.tables import CaseStatus, Run, RunFinding
from tests.center.conftest import ADMIN_TOKEN, Client
from tests.center.helpers import ok, result, seed

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
GOOD = result("pod", "c0", "succeeded", NOW, id="a" * 32)


def _with(**changes: Any) -> dict[str, Any]:
    return {"results": [GOOD, {**GOOD, "id": "b" * 32, **changes}]}


BAD = {
    "unknown field": _with(colour="red"),
    "unknown step field": _with(steps=[{"name": "s", "ok": True, "duration_ms": 1, "x": 1}]),
    "finished before started": _with(finished=(NOW - dt.timedelta(hours=1)).isoformat()),
    "failure without message": _with(state="failed", messages=[" "]),
    "naive time": _with(finished="2026-01-01T00:00:00"),
    "bad id": _with(id="XYZ"),
    "bad state": _with(state="pending"),
    "negative step duration": _with(steps=[{"name": "s", "ok": True, "duration_ms": -1}]),
    "bad finding": _with(findings=[{"check_id": "c", "severity": "dire", "message": "m"}]),
    "finding unknown field": _with(findings=[{"check_id": "c", "severity": "low", "message": "m", "y": 1}]),
    "no results": {"results": []},
    "not a list": {"results": {}},
    "too many messages": _with(messages=["m"] * 101),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_fast_path_refuses_what_the_models_refuse_with_their_message(name: str) -> None:
    body = json.dumps(BAD[name]).encode()
    with pytest.raises(ValidationError) as fast:
        parse_result_batch(body)
    with pytest.raises(ValidationError) as models:
        ResultBatch.model_validate_json(body)
    assert describe([dict(e) for e in fast.value.errors()]) == describe(
        [dict(e) for e in models.value.errors()]
    )


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b'{"results": null}'])
def test_fast_path_refuses_non_batches(raw: bytes) -> None:
    with pytest.raises(ValidationError):
        parse_result_batch(raw)


def test_fast_path_takes_what_the_models_take() -> None:
    finding = {"check_id": "c", "severity": "high", "message": "m", "object": {"kind": "Pod", "name": "p"}}
    body = json.dumps(_with(state="failed", messages=["boom"], findings=[finding], trigger="event")).encode()
    rows = parse_result_batch(body)
    models = ResultBatch.model_validate_json(body).results
    assert [r.get("trigger", "schedule") for r in rows] == [m.trigger for m in models]
    assert [r["finished"] for r in rows] == [m.finished for m in models]
    assert rows[1]["findings"] == models[1].findings


async def test_bad_batches_are_422_naming_the_field(api: Client) -> None:
    admin = api(ADMIN_TOKEN)
    await seed(admin, clusters=1)
    resp = await admin.post("/api/v1/results", json=BAD["finished before started"])
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"].startswith("results[1]:")
    resp = await admin.post("/api/v1/results", json=BAD["unknown step field"])
    assert resp.status_code == 422
    assert resp.json()["field"] == "results[1].steps[0]"
    resp = await admin.post(
        "/api/v1/results", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert resp.status_code == 422
    assert "json" in resp.json()["detail"].lower()


async def test_ingested_rows_match_what_was_sent(api: Client, store: Store) -> None:
    admin = api(ADMIN_TOKEN)
    await seed(admin, clusters=2)
    finding = {
        "check_id": "cert",
        "severity": "high",
        "message": "expires",
        "object": {"kind": "Secret", "name": "s"},
    }
    sent = [
        result("pod", "c0", "failed", NOW - dt.timedelta(minutes=5), ms=1234.5, id="1" * 32, messages=["m1"],
               steps=[{"name": "create", "ok": False, "duration_ms": 3, "error": "quota"}],
               findings=[finding], metrics={"latency_ms": 9.5}, trigger="event"),
        result("pod", "c0", "succeeded", NOW - dt.timedelta(minutes=9), id="2" * 32),  # older: not the status
        result("pod3", "c1", "succeeded", NOW),  # no id: one is made
    ]  # fmt: skip
    assert await ok(await admin.post("/api/v1/results", json={"results": sent}), 202) == {
        "accepted": 3,
        "duplicates": 0,
    }
    detail = await ok(await admin.get(f"/api/v1/runs/{'1' * 32}"))
    assert (detail["state"], detail["trigger"], detail["messages"]) == ("failed", "event", ["m1"])
    assert detail["duration_ms"] == 1234.5
    assert dt.datetime.fromisoformat(detail["finished"]) == NOW - dt.timedelta(minutes=5)
    assert detail["metrics"] == {"latency_ms": 9.5}
    assert detail["steps"] == [{"name": "create", "ok": False, "duration_ms": 3.0, "error": "quota"}]
    assert detail["findings"][0]["object"]["kind"] == "Secret"
    async with store.transaction() as s:
        status = {
            (r.cluster_id, r.case_id): r.run_id for r in (await s.execute(select(CaseStatus))).scalars()
        }
        assert (await s.execute(select(func.count()).select_from(RunFinding))).scalar_one() == 1
    assert status[(1, 1)] == "1" * 32


async def test_concurrent_retries_store_each_run_once(api: Client, store: Store) -> None:
    admin = api(ADMIN_TOKEN)
    await seed(admin, clusters=2)
    batch = {
        "results": [
            result("pod", f"c{i % 2}", "succeeded", NOW - dt.timedelta(seconds=i), id=f"{i:032x}",
                   steps=[{"name": "create", "ok": True, "duration_ms": 1}])
            for i in range(200)
        ]
    }  # fmt: skip
    answers = await asyncio.gather(*(api(ADMIN_TOKEN).post("/api/v1/results", json=batch) for _ in range(4)))
    assert {a.status_code for a in answers} <= {202, 409}, [a.text for a in answers]
    assert sum(a.json()["accepted"] for a in answers if a.status_code == 202) <= 200
    again = await ok(await admin.post("/api/v1/results", json=batch), 202)  # a retry after a 409
    assert again["duplicates"] + again["accepted"] == 200
    async with store.transaction() as s:
        assert (await s.execute(select(func.count()).select_from(Run))).scalar_one() == 200
        steps = (await s.execute(select(Run.steps))).scalars().all()
        assert sum(len(x) for x in steps) == 200
