"""HA center: takeover after kill -9, runs lost or executed twice, scheduling lag, throughput.

    .venv/bin/python -m bench.ha [--replicas 3] [--clusters 6] [--cases 5] [--kills 2]
                                 [--interval 10] [--lease 15] [--renew 5] [--db URL] [--sandbox NAME]

Replicas are real ``kubeprobe server`` processes on one PostgreSQL (default: scripts/postgres,
a fresh database), with the production lease settings unless told otherwise. The clusters are
real: a kwok sandbox (``--sandbox NAME`` reuses a running one and leaves it; by default a fresh
one without nodes, removed at the end) whose kubeconfig every cluster is registered with, so all
``--clusters`` are one API server under as many names (the center's ownership, scheduling and
dispatch are per registered cluster; the API server is what every run talks to). Every case of
the fleet (``--cases`` per cluster, each bound at ``--interval``) is the API ledger case of
``tests/center/replicas.py``: it appends its run id to a ledger when it starts, then creates a
ConfigMap named for its run in the bench's namespace through the run's own ``KUBECONFIG`` and
reports success (201) or failure. A run executed twice shows in the ledger (and gets 409 from the
API server); ``apiserver_configmaps`` counts what reached the API server, ``runs_without_write``
the ledger's runs that left no ConfigMap.

Each kill: wait until every replica holds clusters, kill -9 one (the leader first, so the
singletons move too), time until all of its clusters are held by others (``takeover``), then
restart it under a new name and wait until it holds clusters again. At the end (a minute after
the last takeover, and once ``--min-runs`` runs were created) the bindings keep
firing while every run created before the check must end (``runs_lost``: those that did not
within 90 s) and the ledger is counted (``runs_executed_twice``).

Scheduling lag during a takeover: for each binding of a killed replica's clusters, the longest gap
between two consecutive runs minus the interval (``schedule_gap_max_s``), over the runs started
until 30 s after the takeover (or two intervals when shorter): firings missed while nobody owned
the clusters start at the takeover. ``schedule_gap_pairs`` says over how many pairs of runs: with an
interval longer than the bench runs before a kill there are none and the gap says nothing.

At 1,000 bindings (``--clusters 100 --cases 10``) the interval must be long on a 2-core machine:
each run costs two Python processes (the local runner's launcher and the case), a TLS handshake
and an etcd write in the sandbox, plus the center's dispatch, report and ingestion; the JSON keeps
what it cost (``cpu_ms_per_run``: CPU of the replicas with their cases, the API server and etcd,
over the runs). ``--interval 300`` (3.3 runs/s) keeps the bench from taking both cores from
whatever else runs. Throughput: runs finished per second in the minute before the first kill and
after the last takeover. The machine is shared: the JSON keeps the 1-minute load average at start
and end (``uptime``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from cryptography.fernet import Fernet
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from tests.center.replicas import Replica, executions, seed_fleet, start_replica

from bench.common import write_result
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.leases import leases
from kubeprobe.center.store.tables import Run
from kubeprobe.model import RunState
from kubeprobe.sandbox.build import Builder
from kubeprobe.sandbox.cluster import Sandbox

ROOT = Path(__file__).resolve().parents[1]


def _server(base: str | None) -> str:
    return (
        base
        or subprocess.run(
            ["bash", str(ROOT / "scripts" / "postgres")], check=True, capture_output=True, text=True
        ).stdout.strip()
    )


async def _database(url: str) -> str:
    u = make_url(url)
    name = f"bench_ha_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(host=u.host, port=u.port, user=u.username, database="postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return u.set(database=name).render_as_string(hide_password=False)


async def _holders(store: Store) -> tuple[dict[int, str], str | None]:
    rows = [le for le in await leases(store) if le.live]
    clusters = {le.cluster_id: le.holder for le in rows if le.cluster_id is not None}
    return clusters, next((le.holder for le in rows if le.name == "leader"), None)


async def _until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := await check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout:g}s: {what}")
        await asyncio.sleep(0.2)
    return value


async def _runs(store: Store) -> list[Run]:
    async with store.transaction() as session:
        return list((await session.execute(select(Run))).scalars())


def _cpu_s(pid: int | None) -> float:
    """CPU seconds of a process and of its children it waited for (a replica's cases)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


async def _sandbox(name: str) -> tuple[Sandbox, bool]:
    """The named sandbox (started when it is not running; left running) or a fresh one without
    nodes (removed at the end: the flag says so)."""
    box = Sandbox(name or f"bench-ha-{uuid.uuid4().hex[:6]}")
    await box.up(Builder().build(), node_count=0)
    return box, not name


async def _namespace(box: Sandbox, name: str, delete: bool = False) -> list[dict[str, Any]]:
    """Create the bench's namespace, or list its ConfigMaps and delete it."""
    async with box.client(timeout=60) as kube:
        if not delete:
            await kube.create("/api/v1/namespaces", {"metadata": {"name": name}})
            return []
        listed = await kube.get(f"/api/v1/namespaces/{name}/configmaps")
        await kube.delete(f"/api/v1/namespaces/{name}")
        return [i for i in listed.get("items") or [] if i["metadata"]["name"].startswith("run-")]


def _rate(runs: list[Run], start: dt.datetime, end: dt.datetime) -> float:
    done = [r for r in runs if r.finished and start <= r.finished < end]
    return len(done) / max(1e-9, (end - start).total_seconds())


def _gap_max(
    runs: list[Run], clusters: set[int], start: dt.datetime, end: dt.datetime, every: float
) -> tuple[float, int]:
    """The longest gap and how many pairs of consecutive runs spanned the kill (none when the
    interval is longer than the bench ran before it: then the gap says nothing)."""
    by_binding: dict[Any, list[dt.datetime]] = {}
    for r in runs:
        if r.cluster_id in clusters:
            by_binding.setdefault(r.binding_id, []).append(r.created)
    worst, pairs = 0.0, 0
    for created in by_binding.values():
        created.sort()
        for a, b in itertools.pairwise(created):
            if b >= start and a <= end:
                worst, pairs = max(worst, (b - a).total_seconds() - every), pairs + 1
    return worst, pairs


class Fleet:
    """The replicas (by name), what the stopped ones cost in CPU, and the database they share."""

    def __init__(self, args: argparse.Namespace, db_url: str, work: Path, store: Store) -> None:
        self.args, self.db_url, self.work, self.store = args, db_url, work, store
        self.key = Fernet.generate_key().decode()
        self.live: dict[str, Replica] = {}
        self.cpu_s = 0.0  # of replicas gone (read just before they went)

    def start(self, name: str) -> None:
        a = self.args
        self.live[name] = start_replica(name, self.db_url, self.work, self.key, lease=a.lease, renew=a.renew)

    def kill(self, name: str) -> None:
        replica = self.live.pop(name)
        self.cpu_s += _cpu_s(replica.proc.pid)
        replica.kill()

    def stop_all(self) -> None:
        for name in list(self.live):
            replica = self.live.pop(name)
            self.cpu_s += _cpu_s(replica.proc.pid)
            replica.stop()

    async def balanced(self) -> bool:
        holders, leader = await _holders(self.store)
        live = set(self.live)
        return len(holders) == self.args.clusters and leader is not None and set(holders.values()) == live

    async def until_balanced(self, what: str) -> None:
        await _until(self.balanced, 3 * (self.args.lease + self.args.renew) + 30, what)


async def _kills(fleet: Fleet) -> tuple[list[float], list[tuple[float, int]]]:
    """Kill -9 a replica ``--kills`` times; the takeover times and the firing gaps."""
    args, store = fleet.args, fleet.store
    takeovers: list[float] = []
    gaps: list[tuple[float, int]] = []
    for k in range(args.kills):
        holders, leader = await _holders(store)
        victim = leader if k == 0 and leader in fleet.live else sorted(fleet.live)[k % len(fleet.live)]
        had = {c for c, h in holders.items() if h == victim}
        fleet.kill(victim)
        killed, killed_at = time.monotonic(), dt.datetime.now(dt.UTC)

        async def moved(had: set[int] = had, victim: str = victim) -> bool:
            holders, leader = await _holders(store)
            return all(holders.get(c) not in (None, victim) for c in had) and leader not in (None, victim)

        await _until(moved, 4 * args.lease + 30, f"the clusters of {victim} taken over")
        takeovers.append(time.monotonic() - killed)
        taken_at = dt.datetime.now(dt.UTC)
        # the firings missed while the clusters had no owner start at the takeover (catch-up);
        # later ones come on schedule: the gap is measured on what started by then
        await asyncio.sleep(min(2 * args.interval, 30.0))
        gaps.append(_gap_max(await _runs(store), had, killed_at, taken_at, args.interval))
        fleet.start(f"{victim}x{k}")
        await fleet.until_balanced("the restarted replica holds clusters again")
    return takeovers, gaps


async def _settled(store: Store, cutoff: dt.datetime) -> list[Run]:
    """Every run, once those created before ``cutoff`` ended (or after 90 s: the rest are lost)."""

    async def settled() -> list[Run] | None:
        runs = await _runs(store)
        return runs if all(RunState(r.state).terminal for r in runs if r.created < cutoff) else None

    try:
        runs: list[Run] = await _until(settled, 90, "every run created before the check ended")
    except TimeoutError:
        runs = await _runs(store)
    return runs


async def bench(args: argparse.Namespace) -> dict[str, float]:
    db_url = await _database(args.server)
    work = Path(tempfile.mkdtemp(prefix="bench-ha-"))
    store = Store.connect(db_url)
    await store.migrate()
    box, remove = await _sandbox(args.sandbox)
    namespace = f"bench-ha-{uuid.uuid4().hex[:6]}"
    ledger = work / "ledger"
    fleet = Fleet(args, db_url, work, store)
    components = [box.pid(c) for c in ("kube-apiserver", "etcd")]
    box_cpu = sum(_cpu_s(pid) for pid in components)
    try:
        await _namespace(box, namespace)
        for i in range(args.replicas):
            fleet.start(f"r{i}")
        await seed_fleet(
            next(iter(fleet.live.values())).url,
            args.clusters,
            ledger,
            interval_s=args.interval,
            cases=args.cases,
            kubeconfig=box.kubeconfig.read_text(),
            namespace=namespace,
        )
        await fleet.until_balanced("every replica holds clusters")
        window = dt.timedelta(seconds=min(60.0, 3 * args.interval))
        await asyncio.sleep(window.total_seconds())  # runs flow before the first kill
        first_kill = dt.datetime.now(dt.UTC)
        takeovers, gaps = await _kills(fleet)
        last_takeover = dt.datetime.now(dt.UTC)
        await asyncio.sleep(window.total_seconds())

        async def enough() -> bool:
            async with store.transaction() as session:
                return (await session.scalar(select(func.count()).select_from(Run)) or 0) >= args.min_runs

        await _until(enough, 2 * args.interval + 60, f"{args.min_runs} runs created")
        runs = await _settled(store, cutoff := dt.datetime.now(dt.UTC))
        fleet.stop_all()
        box_cpu = sum(_cpu_s(pid) for pid in components) - box_cpu
        written = {i["metadata"]["name"].removeprefix("run-") for i in await _namespace(box, namespace, True)}
        counts = executions(ledger)  # before the work folder goes
    finally:
        fleet.stop_all()
        await store.close()
        await _drop(db_url)
        shutil.rmtree(work, ignore_errors=True)
        if remove:
            box.down()
    lost = [r for r in runs if r.created < cutoff and not RunState(r.state).terminal]
    assert counts, "the ledger is empty: no case ran"
    return {
        "runs_total": float(len(runs)),
        "runs_succeeded": float(sum(r.state == "succeeded" for r in runs)),
        "runs_adopted_ended": float(sum("its replica died" in " ".join(r.messages) for r in runs)),
        "runs_lost": float(len(lost)),
        "runs_executed_twice": float(sum(n > 1 for n in counts.values())),
        "apiserver_configmaps": float(len(written)),
        "runs_without_write": float(len(set(counts) - written)),
        "kills": float(len(takeovers)),
        "takeover_p50_s": round(statistics.median(takeovers), 2),
        "takeover_max_s": round(max(takeovers), 2),
        "schedule_gap_max_s": round(max(g for g, _ in gaps), 2),
        "schedule_gap_pairs": float(sum(n for _, n in gaps)),
        "runs_per_s_before": round(_rate(runs, first_kill - window, first_kill), 3),
        "runs_per_s_after": round(_rate(runs, last_takeover, last_takeover + window), 3),
        "cpu_ms_per_run": round(1000 * (fleet.cpu_s + box_cpu) / max(1, len(counts)), 1),
        "cpu_ms_per_run_apiserver_etcd": round(1000 * box_cpu / max(1, len(counts)), 1),
    }


async def _drop(url: str) -> None:
    u = make_url(url)
    conn = await asyncpg.connect(host=u.host, port=u.port, user=u.username, database="postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--clusters", type=int, default=6)
    parser.add_argument("--cases", type=int, default=5)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--min-runs", type=int, default=0, help="runs created before the check")
    parser.add_argument("--lease", type=float, default=15.0)
    parser.add_argument("--renew", type=float, default=5.0)
    parser.add_argument("--db", default=None, help="PostgreSQL server URL (default: scripts/postgres)")
    parser.add_argument(
        "--sandbox", default="", help="a kwok sandbox to use and leave running (default: a fresh one)"
    )
    args = parser.parse_args()
    args.server = _server(args.db)
    load_start = os.getloadavg()[0]
    results = asyncio.run(bench(args))
    results |= {"load_avg_1m_start": round(load_start, 2), "load_avg_1m_end": round(os.getloadavg()[0], 2)}
    params = {k: v for k, v in vars(args).items() if k not in ("db", "server", "sandbox")} | {
        "bindings": args.clusters * args.cases,
        "db": "postgresql",
        "runner": "local API ledger case (creates a ConfigMap per run)",
        "api_servers": "1 kwok sandbox; every cluster is registered with its kubeconfig",
    }
    targets = {"takeover_max_s": ["<=", 30], "runs_lost": ["==", 0], "runs_executed_twice": ["==", 0]}
    path = write_result("ha", params, results, targets)
    print(path.read_text())


if __name__ == "__main__":
    main()
