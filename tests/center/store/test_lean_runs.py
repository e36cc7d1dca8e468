# ruff: noqa: E501 (SQL literals read better unbroken)
"""Runs without foreign keys to clusters and cases (migration 0007): deleting a cluster or case still
deletes its runs and resident reports, a delete racing an ingestion leaves no orphan, and the
migration moves stored steps into their runs."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid

import pytest
from alembic import command
from sqlalchemy import Connection, func, select, text

from kubeprobe.center.auth import Principal
from kubeprobe.center.errors import InvalidInputError
from kubeprobe.center.schemas.resident import parse_resident_batch
from kubeprobe.center.schemas.runs import parse_result_batch
from kubeprobe.center.store import clusters, ingestion, resident
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.engine import alembic_config
from kubeprobe.center.store.tables import Cluster, Run
from tests.center.conftest import ADMIN_TOKEN, Client
from tests.center.helpers import KUBECONFIG, ok, result, seed

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
WHO = Principal("tester", "admin")


def _resident(cluster: str) -> dict[str, object]:
    return {
        "key": uuid.uuid4().hex,
        "kind": "state",
        "cluster": cluster,
        "case": "resident-ns-p",
        "config": "ns/p",
        "probe": "apiserver-read",
        "at": NOW.isoformat(),
        "previous": "healthy",
        "state": "failing",
        "reason": "3 of 5",
    }


async def _counts(store: Store) -> dict[str, int]:
    async with store.transaction() as s:
        runs = dict((await s.execute(select(Run.cluster_id, func.count()).group_by(Run.cluster_id))).all())
        reports = dict(
            (
                await s.execute(text("SELECT cluster_id, count(*) FROM resident_reports GROUP BY cluster_id"))
            ).all()
        )
        names = dict((await s.execute(select(Cluster.id, Cluster.name))).all())
    return {f"runs:{names.get(k, f'orphan-{k}')}": v for k, v in runs.items()} | {
        f"reports:{names.get(k, f'orphan-{k}')}": v for k, v in reports.items()
    }


async def test_deleting_a_cluster_or_case_deletes_its_runs_and_reports(api: Client, store: Store) -> None:
    admin = api(ADMIN_TOKEN)
    await seed(admin)
    batch = [
        result(case, c, "succeeded", NOW, id=uuid.uuid4().hex)
        for case in ("pod", "pod3")
        for c in ("c0", "c1")
    ]
    await ok(await admin.post("/api/v1/results", json={"results": batch}), 202)
    reports = {"reports": [_resident("c0"), _resident("c1")]}
    await ok(await admin.post("/api/v1/resident/reports", json=reports), 202)
    assert await _counts(store) == {"runs:c0": 3, "runs:c1": 3, "reports:c0": 1, "reports:c1": 1}

    await ok(await admin.delete("/api/v1/suites/basic"), 204)
    await ok(await admin.delete("/api/v1/cases/pod3"), 204)
    assert await _counts(store) == {"runs:c0": 2, "runs:c1": 2, "reports:c0": 1, "reports:c1": 1}
    await ok(await admin.delete("/api/v1/clusters/c0"), 204)
    assert await _counts(store) == {"runs:c1": 2, "reports:c1": 1}
    await ok(await admin.delete("/api/v1/cases/resident-ns-p"), 204)
    assert await _counts(store) == {"runs:c1": 1}


async def test_a_delete_racing_ingestion_leaves_no_orphan_run(api: Client, store: Store) -> None:
    """Each round: ingest a batch for a cluster while deleting it. Either the batch lands first and
    the delete removes it, or the delete lands first and the batch is refused: never runs of a
    cluster that is gone."""
    admin = api(ADMIN_TOKEN)
    await seed(admin, clusters=1)
    refused = 0
    for round_ in range(8):
        name = f"race{round_}"
        await ok(await admin.post("/api/v1/clusters", json={"name": name, "kubeconfig": KUBECONFIG}), 201)
        body = json.dumps(
            {"results": [result("pod", name, "succeeded", NOW, id=uuid.uuid4().hex) for _ in range(300)]}
        ).encode()
        resident_body = json.dumps({"reports": [_resident(name) for _ in range(100)]}).encode()

        async def ingest(body: bytes = body) -> None:
            async with store.transaction() as s:
                await ingestion.ingest_results(s, parse_result_batch(body), WHO)

        async def report(body: bytes = resident_body) -> None:
            async with store.transaction() as s:
                await resident.ingest_reports(s, parse_resident_batch(body), WHO)

        async def delete(name: str = name, pause: float = 0.002 * round_) -> None:
            await asyncio.sleep(pause)
            async with store.transaction() as s:
                await clusters.delete_cluster(s, name, WHO)

        outcomes = await asyncio.gather(ingest(), report(), delete(), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                # refused because the cluster was gone, or (SQLite) a write from a stale snapshot
                assert (
                    "no cluster named" in str(outcome)
                    or "locked" in str(outcome)
                    or "conflicts" in str(outcome)
                ), repr(outcome)
                refused += 1
        assert not [k for k in await _counts(store) if "orphan" in k or name in k], await _counts(store)
    assert refused <= 16


async def test_unknown_cluster_in_a_batch_is_refused_by_name(api: Client, store: Store) -> None:
    admin = api(ADMIN_TOKEN)
    await seed(admin, clusters=1)
    body = json.dumps({"results": [result("pod", "nope", "succeeded", NOW)]}).encode()
    with pytest.raises(InvalidInputError, match=r"results\[0\]\.cluster: no cluster named 'nope'"):
        async with store.transaction() as s:
            await ingestion.ingest_results(s, parse_result_batch(body), WHO)
    assert await _counts(store) == {}


async def test_migration_0007_moves_steps_into_their_runs(db_url: str) -> None:
    store = Store.connect(db_url)
    try:

        def upgrade(conn: Connection, revision: str) -> None:
            command.upgrade(alembic_config(conn), revision)

        async with store.engine.begin() as conn:
            await conn.run_sync(upgrade, "0006")
            stamp = "2026-11-23 00:00:00.000000" if store.dialect == "sqlite" else NOW
            await conn.execute(
                text(
                    "INSERT INTO clusters (id, name, labels, context, server, credentials, state, state_message,"
                    " version, created, updated) VALUES (1, 'c', '{}', 'c', 'https://x', :b, 'ready', '', '', :t, :t)"
                ),
                {"b": b"x", "t": stamp},
            )
            await conn.execute(
                text(
                    "INSERT INTO case_templates (id, name, kind, command, params_schema, timeout_seconds,"
                    " description, builtin, created) VALUES (1, 't', 'probe', '[]', '{}', 60, '', false, :t)"
                ),
                {"t": stamp},
            )
            await conn.execute(
                text(
                    "INSERT INTO cases (id, name, template_id, params, description, created) VALUES (1, 'k', 1, '{}', '', :t)"
                ),
                {"t": stamp},
            )
            for run_id in ("r1", "r2"):
                await conn.execute(
                    text(
                        "INSERT INTO runs (id, case_id, cluster_id, trigger, state, created, deadline, messages,"
                        " metrics, details) VALUES (:id, 1, 1, 'manual', 'succeeded', :t, :t, '[]', '{}', '{}')"
                    ),
                    {"id": run_id, "t": stamp},
                )
            steps = [("r1", 1, "wait", False, 2.5, "timed out"), ("r1", 0, "create", True, 1.0, None)]
            for run_id, position, name, ok_, ms, error in steps:
                await conn.execute(
                    text(
                        "INSERT INTO run_steps (run_id, position, name, ok, duration_ms, error)"
                        " VALUES (:r, :p, :n, :o, :d, :e)"
                    ),
                    {"r": run_id, "p": position, "n": name, "o": ok_, "d": ms, "e": error},
                )
        await store.migrate()
        async with store.transaction() as s:
            got = dict((await s.execute(select(Run.id, Run.steps))).all())
        assert got == {
            "r1": [
                {"name": "create", "ok": True, "duration_ms": 1.0, "error": None},
                {"name": "wait", "ok": False, "duration_ms": 2.5, "error": "timed out"},
            ],
            "r2": [],
        }
    finally:
        await store.close()
