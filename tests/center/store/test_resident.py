"""The center's resident store on SQLite and PostgreSQL: the bulk path (one INSERT ... ON CONFLICT
DO NOTHING RETURNING per chunk, the runs in bulk) stores each report once, with its run and the
latest status, and reads back what was sent."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from kubeprobe.center.auth import Principal
from kubeprobe.center.schemas.resident import parse_resident_batch
from kubeprobe.center.store import resident
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.tables import CaseStatus, Cluster, Run

ROOT = Path(__file__).resolve().parents[3]
WHO = Principal("tester", "operator")
T0 = dt.datetime(2026, 11, 22, 12, 0, 0, 123456, tzinfo=dt.UTC)


async def _admin(url: str) -> asyncpg.Connection:
    u = make_url(url)
    return await asyncpg.connect(host=u.host, port=u.port, user=u.username, database="postgres")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The throwaway server of scripts/postgres (started here when the test script did not)."""
    return (
        os.environ.get("KUBEPROBE_TEST_POSTGRES_URL")
        or subprocess.run(
            ["bash", str(ROOT / "scripts" / "postgres")], check=True, capture_output=True, text=True
        ).stdout.strip()
    )


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    name = ""
    base = ""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'center.db'}"
    else:
        base = request.getfixturevalue("postgres_url")
        name = f"t_{uuid.uuid4().hex[:12]}"
        conn = await _admin(base)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        url = make_url(base).set(database=name).render_as_string(hide_password=False)
    st = Store.connect(url, timeout=5.0)
    await st.migrate()
    async with st.transaction() as s:
        s.add(
            Cluster(
                name="c0", context="c", server="https://127.0.0.1:1", credentials=b"x", created=T0, updated=T0
            )
        )
    yield st
    await st.close()
    if name:
        conn = await _admin(base)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def report(i: int, kind: str = "summary", **extra: Any) -> dict[str, Any]:
    at = T0 + dt.timedelta(minutes=i)
    body: dict[str, Any] = {
        "key": uuid.uuid4().hex,
        "kind": kind,
        "cluster": "c0",
        "case": f"resident-ns-p{i % 3}",
        "config": f"ns/p{i % 3}",
        "probe": "apiserver-read",
        "at": at.isoformat(),
        "state": "healthy",
    }
    if kind == "summary":
        body |= {
            "period_start": (at - dt.timedelta(seconds=60)).isoformat(),
            "period_end": at.isoformat(),
            "runs": 60,
            "ok": 59,
            "failed": 1,
            "errors": 0,
            "latency_ms": {"p50": 2.5, "p99": 9.0},
        }
    else:
        body |= {"previous": "healthy", "state": "failing", "reason": "3 of 5", "message": "timed out"}
    return body | extra


def rows(reports: list[dict[str, Any]]) -> Any:
    return parse_resident_batch(json.dumps({"reports": reports}).encode())


async def test_each_report_once_with_its_run_and_the_latest_status(store: Store) -> None:
    batch = [report(i) for i in range(7)] + [report(7, "state")]
    batch.append(dict(batch[0]))  # the same key twice in one batch
    async with store.transaction() as s:
        first = await resident.ingest_reports(s, rows(batch), WHO)
    assert (first.accepted, first.duplicates) == (8, 1)
    replay = [*batch[3:], report(8)]  # a replay overlapping what is stored, plus one new report
    async with store.transaction() as s:
        again = await resident.ingest_reports(s, rows(replay), WHO)
    assert (again.accepted, again.duplicates) == (1, len(replay) - 1)
    async with store.transaction() as s:
        runs = (await s.execute(select(func.count()).select_from(Run))).scalar()
        assert runs == 9
        failing = (await s.execute(select(Run).where(Run.id == batch[7]["key"]))).scalar_one()
        status = (await s.execute(select(CaseStatus))).scalars().all()
        stored = await resident.list_reports(s, cluster="c0", case=None, kind=None, limit=100)
    assert failing.state == "failed"
    assert failing.finished == T0 + dt.timedelta(minutes=7)
    assert failing.messages == ["resident state: healthy -> failing (3 of 5)", "timed out"]
    assert failing.metrics == {"consecutive_failures": 0.0}
    # the latest report of each case is its status: p1 ← report 7 (failing), p2 ← report 8
    latest = {row.run_id: row.state for row in status}
    assert latest == {batch[6]["key"]: "succeeded", batch[7]["key"]: "failed", replay[-1]["key"]: "succeeded"}
    assert len(stored) == 9
    newest = stored[0]
    assert newest.key == replay[-1]["key"]
    assert newest.at == T0 + dt.timedelta(minutes=8)
    assert newest.body["latency_ms"] == {"p50": 2.5, "p99": 9.0}
    assert newest.body["runs"] == 60
    assert dt.datetime.fromisoformat(newest.body["period_end"]) == newest.at


async def test_a_batch_larger_than_one_chunk(store: Store) -> None:
    batch = [report(i) for i in range(resident.CHUNK * 2 + 7)]
    async with store.transaction() as s:
        got = await resident.ingest_reports(s, rows(batch), WHO)
    assert got.accepted == len(batch)
    async with store.transaction() as s:
        again = await resident.ingest_reports(s, rows(batch), WHO)
    assert again.duplicates == len(batch)
