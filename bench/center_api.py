# ruff: noqa: E501 (long SQL literals read better unbroken)
"""Center API at fleet scale: p99 latency of run-list and cluster-health, and batched ingestion rate.

For each store (SQLite file, PostgreSQL from scripts/postgres): migrate an empty database, register
CLUSTERS clusters and CASES cases, write DAYS days of synthetic history of every case on every
cluster, generated inside the database (daily rollups for every day, hourly rollups where the health
windows read them: the last HOURLY_HOURS and the window's first day; plus RAW_RUNS raw runs over the
last RAW_HOURS hours), start `kubeprobe server` on it, then over HTTP:

- GET /api/v1/runs with the filters people use (none, cluster, case, state, cluster+state, time
  range, next page), REQUESTS times each: p50/p99 in ms;
- GET /api/v1/clusters/{name}/health for random clusters, windows 24 h and 720 h: p50/p99 in ms;
- POST /api/v1/results, INGEST results in batches of BATCH (3 steps each) from CLIENTS concurrent
  clients: results per second; on PostgreSQL again with REPLICAS center servers sharing the
  database, 2 clients each (`postgresql_replicas_*`: the scale setup, and the one the 20,000/s
  target is read from; the single server's rate is recorded next to it).

The machine is shared, so each part also records the server's CPU per request / per result and the
1-minute load average: those hold when wall-clock latency does not.

Run: `.venv/bin/python -m bench.center_api [--stores sqlite,postgresql] [--days 30] ...`;
writes bench/results/center_api.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.common import write_result
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.rollups import WATERMARK, floor_day, floor_hour

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "kp_bench-admin"
KUBECONFIG = (
    "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
    "users:\n- name: u\n  user: {token: t}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\n"
)


def ts(t: dt.datetime, dialect: str) -> Any:
    """A parameter the way the store keeps datetimes (SQLite: naive UTC text; PostgreSQL: timestamptz)."""
    if dialect == "sqlite":
        return t.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return t


async def seed(store: Store, args: argparse.Namespace) -> dict[str, float]:
    """Clusters, template, cases, history; returns seconds spent per part."""
    d = store.dialect
    now = dt.datetime.now(dt.UTC)
    hour = floor_hour(now)
    secret = Fernet(Fernet.generate_key()).encrypt(KUBECONFIG.encode())
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    async with store.engine.begin() as conn:
        stamp = ts(now, d)
        await conn.execute(
            text(
                "INSERT INTO clusters (id, name, labels, context, server, credentials, state, state_message, version,"
                " created, updated) VALUES (:id, :name, :labels, 'c', 'https://127.0.0.1:1', :cred, 'ready', '',"
                " 'v1.36.3', :now, :now)"
            ),
            [
                {
                    "id": i,
                    "name": f"cluster-{i:04d}",
                    "labels": json.dumps({"env": "prod" if i % 2 else "dev"}),
                    "cred": secret,
                    "now": stamp,
                }
                for i in range(1, args.clusters + 1)
            ],
        )
        await conn.execute(
            text(
                "INSERT INTO case_templates (id, name, kind, entry_point, command, params_schema, timeout_seconds,"
                " description, builtin, created) VALUES (1, 'bench', 'probe', 'bench.probe:run', '[]',"
                " :schema, 60, '', false, :now)"
            ),
            {"schema": json.dumps({"type": "object", "properties": {}}), "now": stamp},
        )
        await conn.execute(
            text(
                "INSERT INTO cases (id, name, template_id, params, description, created) VALUES (:id, :name, 1, '{}', '', :now)"
            ),
            [{"id": i, "name": f"case-{i:02d}", "now": stamp} for i in range(1, args.cases + 1)],
        )
        await conn.execute(
            text("INSERT INTO center_state (key, value) VALUES (:k, :v)"),
            {"k": WATERMARK, "v": hour.isoformat()},
        )
        if d == "postgresql":  # explicit ids: move the sequences past them
            for table in ("clusters", "case_templates", "cases"):
                await conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                    )
                )
    timings["seed_catalog_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    await seed_rollups(store, args, hour)
    timings["seed_rollups_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    step = args.raw_hours * 3600 / max(args.raw_runs, 1)
    params = {
        "n": args.raw_runs,
        "clusters": args.clusters,
        "cases": args.cases,
        "step": step,
        "now": ts(now, d)[:19] if d == "sqlite" else now,
    }
    async with store.engine.begin() as conn:
        if d == "sqlite":
            await conn.execute(text("PRAGMA cache_size = -1000000"))
        # each non-unique index's own DDL (partial ones keep their WHERE), to build it again after the rows
        ddl = (
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'runs'"
            if d == "postgresql"
            else "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'runs' AND sql IS NOT NULL"
        )
        indexes = [
            (name, sql)
            for name, sql in (await conn.execute(text(ddl))).all()
            if " UNIQUE " not in sql.upper()
        ]
        for name, _ in indexes:  # built after the rows: much faster than row by row
            await conn.execute(text(f"DROP INDEX {name}"))
        if d == "postgresql":
            await conn.execute(
                text(
                    "INSERT INTO runs (id, case_id, cluster_id, trigger, state, created, deadline, started, finished,"
                    " duration_ms, messages, metrics, details)"
                    " SELECT md5(i::text), 1 + i % :cases, 1 + (i / :cases) % :clusters, 'schedule',"
                    " CASE WHEN i % 33 = 0 THEN 'failed' WHEN i % 101 = 0 THEN 'error' ELSE 'succeeded' END,"
                    " t, t + interval '60 seconds', t, t + interval '150 milliseconds', 150,"
                    " CAST('[]' AS json), CAST('{}' AS json), CAST('{}' AS json)"
                    " FROM (SELECT i, CAST(:now AS timestamptz) - make_interval(secs => i * CAST(:step AS double precision)) AS t"
                    "       FROM generate_series(1, :n) i) g"
                ),
                params,
            )
        else:
            await conn.execute(
                text(
                    "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < :n)"
                    " INSERT INTO runs (id, case_id, cluster_id, trigger, state, created, deadline, started, finished,"
                    " duration_ms, messages, metrics, details)"
                    " SELECT printf('%032x', i), 1 + i % :cases, 1 + (i / :cases) % :clusters, 'schedule',"
                    " CASE WHEN i % 33 = 0 THEN 'failed' WHEN i % 101 = 0 THEN 'error' ELSE 'succeeded' END,"
                    " strftime('%Y-%m-%d %H:%M:%S.000000', :now, '-' || CAST(i * :step AS INTEGER) || ' seconds'),"
                    " strftime('%Y-%m-%d %H:%M:%S.000000', :now, '-' || CAST(i * :step AS INTEGER) || ' seconds', '+60 seconds'),"
                    " strftime('%Y-%m-%d %H:%M:%S.000000', :now, '-' || CAST(i * :step AS INTEGER) || ' seconds'),"
                    " strftime('%Y-%m-%d %H:%M:%S.150000', :now, '-' || CAST(i * :step AS INTEGER) || ' seconds'),"
                    " 150, '[]', '{}', '{}' FROM g"
                ),
                params,
            )
        for _, sql in indexes:
            await conn.execute(text(sql))
        await conn.execute(
            text(
                "INSERT INTO case_status (cluster_id, case_id, run_id, state, finished, duration_ms)"
                " SELECT c.id, k.id, 'seed', 'succeeded', :now, 150 FROM clusters c CROSS JOIN cases k"
            ),
            {"now": ts(now, d)},
        )
    timings["seed_runs_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    async with store.engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
        await conn.commit()
    timings["analyze_s"] = time.perf_counter() - t0
    return timings


#: Synthetic hour: 12 runs (p50 in (100, 250] ms, max 500) and a day of them; bucket columns as in
#: tables.BUCKET_COLUMNS (the others stay 0).
HOUR_ROW = {"runs": 12, "sum_ms": 1800, "max_ms": 500, "le_100_ms": 1, "le_250_ms": 9, "le_500_ms": 2}
ROLLUP_INDEXES = {
    "rollups": {"ix_rollups_cluster_id_hour": "cluster_id, hour", "ix_rollups_hour": "hour"},
    "daily_rollups": {"ix_daily_rollups_day": "day"},
}


async def seed_rollups(store: Store, args: argparse.Namespace, mark: dt.datetime) -> None:
    """Daily rollups of every case on every cluster for DAYS days, and hourly ones where health
    windows read them: the HOURLY_HOURS before the watermark and the first day of the longest
    window. Generated in the database in primary-key order, secondary indexes built afterwards."""
    d = store.dialect
    first_day = floor_day(mark - dt.timedelta(days=args.days))
    hour_spans = [
        (mark - dt.timedelta(hours=args.hourly_hours), mark),
        (first_day, first_day + dt.timedelta(days=1)),
    ]
    days = (first_day, floor_day(mark))  # whole days before the watermark's day
    async with store.engine.begin() as conn:
        if d == "sqlite":
            await conn.execute(text("PRAGMA cache_size = -1000000"))
        for indexes in ROLLUP_INDEXES.values():
            for name in indexes:
                await conn.execute(text(f"DROP INDEX {name}"))
        h = HOUR_ROW
        for start, end in hour_spans:
            n = int((end - start).total_seconds() // 3600)
            if d == "postgresql":
                series = "generate_series(0, :n - 1) s, LATERAL (SELECT CAST(:start AS timestamptz) + s * interval '1 hour' AS t) x"
                fail, err = "(random() < 0.02)::int", "(random() < 0.01)::int"
            else:
                series = "(WITH RECURSIVE hs(s) AS (SELECT 0 UNION ALL SELECT s + 1 FROM hs WHERE s < :n - 1) SELECT s, strftime('%Y-%m-%d %H:00:00.000000', :start, '+' || s || ' hours') AS t FROM hs) x"
                fail, err = "abs(random()) % 50 = 0", "abs(random()) % 100 = 0"
            await conn.execute(
                text(
                    "INSERT INTO rollups (case_id, cluster_id, hour, runs, failures, errors, sum_ms, p50_ms, p95_ms,"
                    " p99_ms, max_ms, le_100_ms, le_250_ms, le_500_ms)"
                    f" SELECT k.id, c.id, x.t, {h['runs']}, {fail}, {err}, {h['sum_ms']}, 140, 300, 400, {h['max_ms']},"
                    f" {h['le_100_ms']}, {h['le_250_ms']}, {h['le_500_ms']}"
                    f" FROM cases k CROSS JOIN clusters c CROSS JOIN {series} ORDER BY k.id, c.id, x.t"
                ),
                {"n": n, "start": ts(start, d)[:19] if d == "sqlite" else start},
            )
        n_days = (days[1] - days[0]).days
        if d == "postgresql":
            series = "generate_series(0, :n - 1) s, LATERAL (SELECT CAST(:start AS timestamptz) + s * interval '1 day' AS t) x"
            fail, err = "(random() * 12)::int", "(random() * 6)::int"
        else:
            series = "(WITH RECURSIVE ds(s) AS (SELECT 0 UNION ALL SELECT s + 1 FROM ds WHERE s < :n - 1) SELECT s, strftime('%Y-%m-%d 00:00:00.000000', :start, '+' || s || ' days') AS t FROM ds) x"
            fail, err = "abs(random()) % 12", "abs(random()) % 6"
        await conn.execute(
            text(
                "INSERT INTO daily_rollups (cluster_id, day, case_id, runs, failures, errors, sum_ms, max_ms,"
                " le_100_ms, le_250_ms, le_500_ms)"
                f" SELECT c.id, x.t, k.id, {24 * h['runs']}, {fail}, {err}, {24 * h['sum_ms']}, {h['max_ms']},"
                f" {24 * h['le_100_ms']}, {24 * h['le_250_ms']}, {24 * h['le_500_ms']}"
                f" FROM clusters c CROSS JOIN {series} CROSS JOIN cases k ORDER BY c.id, x.t, k.id"
            ),
            {"n": n_days, "start": ts(days[0], d)[:19] if d == "sqlite" else days[0]},
        )
        for table, indexes in ROLLUP_INDEXES.items():
            for name, cols in indexes.items():
                await conn.execute(text(f"CREATE INDEX {name} ON {table} ({cols})"))


def start_server(
    url: str,
    data: Path,
    port: int,
    python_args: tuple[str, ...] = ("-m", "kubeprobe.cli.main"),
    **extra_env: str,
) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        KUBEPROBE_DATABASE_URL=url,
        KUBEPROBE_DATA_DIR=str(data),
        KUBEPROBE_ADMIN_TOKEN=TOKEN,
        KUBEPROBE_PORT=str(port),
        KUBEPROBE_MAINTENANCE_INTERVAL_SECONDS="86400",
        KUBEPROBE_MAX_BODY_BYTES=str(64 * 2**20),
        **extra_env,
    )
    log = (data / "server.log").open("wb")
    return subprocess.Popen([sys.executable, *python_args, "server"], env=env, stdout=log, stderr=log)


async def wait_ready(client: httpx.AsyncClient, proc: subprocess.Popen[bytes], data: Path) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {(data / 'server.log').read_text()[-3000:]}")
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("server not ready in 300 s")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def latencies(
    client: httpx.AsyncClient, queries: list[tuple[str, dict[str, Any]]], n: int
) -> list[float]:
    out: list[float] = []
    for i in range(n):
        path, params = queries[i % len(queries)]
        t0 = time.perf_counter()
        resp = await client.get(path, params=params)
        out.append((time.perf_counter() - t0) * 1000)
        resp.raise_for_status()
    return out


def cpu_s(proc: psutil.Process) -> float:
    """User + system CPU seconds of a process so far."""
    times = proc.cpu_times()
    return float(times.user + times.system)


async def settle(proc: psutil.Process, url: str, timeout: float = 600.0) -> float:
    """Wait until the server and its database idle (the start-up maintenance, a roll-up of the late
    hours, is over), so that what is measured below is the requests' alone; returns seconds waited."""
    t0 = time.perf_counter()
    quiet = 0
    while time.perf_counter() - t0 < timeout and quiet < 3:
        before = cpu_s(proc)
        await asyncio.sleep(1.0)
        busy = cpu_s(proc) - before >= 0.05
        if not busy and url.startswith("postgresql"):
            u = make_url(url)
            import asyncpg

            conn = await asyncpg.connect(host=u.host, port=u.port, user=u.username, database=u.database)
            try:
                busy = bool(
                    await conn.fetchval(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND state = 'active' AND pid <> pg_backend_pid()"
                    )
                )
            finally:
                await conn.close()
        quiet = 0 if busy else quiet + 1
    return time.perf_counter() - t0


async def measure(base: str, args: argparse.Namespace, server_pid: int, url: str) -> dict[str, float]:
    server = psutil.Process(server_pid)
    res: dict[str, float] = {"startup_maintenance_s": await settle(server, url)}
    res["load_average_1m_start"] = os.getloadavg()[0]
    rng = random.Random(7)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as client:
        first = (await client.get("/api/v1/runs", params={"limit": 50})).json()
        since = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).isoformat()
        until = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
        kinds: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for _ in range(20):
            cluster, case = (
                f"cluster-{rng.randint(1, args.clusters):04d}",
                f"case-{rng.randint(1, args.cases):02d}",
            )
            for kind, params in (
                ("all", {}),
                ("cluster", {"cluster": cluster}),
                ("case", {"case": case}),
                ("state", {"state": "failed"}),
                ("cluster_state", {"cluster": cluster, "state": "failed"}),
                ("time_range", {"since": since, "until": until}),
                ("next_page", {"cursor": first["next"]}),
            ):
                kinds.setdefault(kind, []).append(("/api/v1/runs", {"limit": 50, **params}))
        run_queries = [q for group in zip(*kinds.values(), strict=True) for q in group]
        await latencies(client, run_queries, 20)  # warm up
        cpu0 = cpu_s(server)
        runs_ms = await latencies(client, run_queries, args.requests)
        cpu = cpu_s(server) - cpu0
        res |= {
            "runs_list_p50_ms": pct(runs_ms, 50),
            "runs_list_p99_ms": pct(runs_ms, 99),
            "runs_list_server_cpu_ms_per_request": cpu * 1000 / len(runs_ms),
        }
        for i, kind in enumerate(kinds):  # queries cycle through the kinds in this order
            res[f"runs_list_{kind}_max_ms"] = max(runs_ms[i :: len(kinds)])
        for window in (24, 720):
            qs = [
                (
                    f"/api/v1/clusters/cluster-{rng.randint(1, args.clusters):04d}/health",
                    {"window_hours": window},
                )
                for _ in range(50)
            ]
            await latencies(client, qs, 5)
            cpu0 = cpu_s(server)
            ms = await latencies(client, qs, args.requests)
            cpu = cpu_s(server) - cpu0
            res |= {
                f"health_{window}h_p50_ms": pct(ms, 50),
                f"health_{window}h_p99_ms": pct(ms, 99),
                f"health_{window}h_server_cpu_ms_per_request": cpu * 1000 / len(ms),
            }

    res |= await ingest([base], args, [server], args.clients, rng)
    res["load_average_1m"] = os.getloadavg()[0]
    return res


def batches(args: argparse.Namespace, rng: random.Random) -> list[bytes]:
    """INGEST results (new ids) as POST /results bodies of BATCH results with 3 steps each."""
    now = dt.datetime.now(dt.UTC)
    bodies: list[bytes] = []
    for b in range(args.ingest // args.batch):
        results = []
        for i in range(args.batch):
            fin = now - dt.timedelta(seconds=rng.uniform(0, 3000))
            results.append(
                {
                    "id": uuid.uuid4().hex,
                    "case": f"case-{rng.randint(1, args.cases):02d}",
                    "cluster": f"cluster-{rng.randint(1, args.clusters):04d}",
                    "state": "succeeded" if (b + i) % 50 else "failed",
                    "started": (fin - dt.timedelta(milliseconds=150)).isoformat(),
                    "finished": fin.isoformat(),
                    "messages": [] if (b + i) % 50 else ["pod did not start in 60s"],
                    "steps": [
                        {"name": n, "ok": True, "duration_ms": 50}
                        for n in ("create", "wait-running", "delete")
                    ],
                    "metrics": {"latency_ms": 150},
                }
            )
        bodies.append(json.dumps({"results": results}).encode())
    return bodies


async def ingest(
    bases: list[str],
    args: argparse.Namespace,
    servers: list[psutil.Process],
    clients: int,
    rng: random.Random,
) -> dict[str, float]:
    """POST the batches from `clients` concurrent clients spread over the servers (replicas of one
    center): results per second, and per CPU-second of the servers."""
    queue = batches(args, rng)
    headers = {"Authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
    https = [httpx.AsyncClient(base_url=b, headers=headers, timeout=120) for b in bases]

    async def worker(i: int) -> int:
        done = 0
        while queue:
            resp = await https[i % len(https)].post("/api/v1/results", content=queue.pop())
            resp.raise_for_status()
            done += int(resp.json()["accepted"])
        return done

    try:
        cpu0 = sum(cpu_s(p) for p in servers)
        t0 = time.perf_counter()
        accepted = sum(await asyncio.gather(*(worker(i) for i in range(clients))))
        elapsed = time.perf_counter() - t0
        cpu = sum(cpu_s(p) for p in servers) - cpu0
    finally:
        for h in https:
            await h.aclose()
    return {
        "ingest_results_per_s": accepted / elapsed,
        "ingest_results": float(accepted),
        "ingest_results_per_server_cpu_s": accepted / cpu if cpu else 0.0,
    }


async def replicas(
    url: str, work: Path, port: int, first: subprocess.Popen[bytes], args: argparse.Namespace
) -> dict[str, float]:
    """Ingestion again with REPLICAS servers on the one database, 2 clients each."""
    procs = [first]
    try:
        for i in range(1, args.replicas):
            data = work / f"replica-{i}"
            data.mkdir()
            procs.append(start_server(url, data, port + i))
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port + i}") as probe:
                await wait_ready(probe, procs[-1], data)
        servers = [psutil.Process(p.pid) for p in procs]
        for server in servers:
            await settle(server, url)
        bases = [f"http://127.0.0.1:{port + i}" for i in range(args.replicas)]
        got = await ingest(bases, args, servers, 2 * args.replicas, random.Random(11))
    finally:
        for p in procs[1:]:
            p.terminate()
            p.wait(30)
    return {f"replicas_{k}": v for k, v in got.items()} | {"replicas_load_average_1m": os.getloadavg()[0]}


def postgres_base() -> str:
    """The URL of the throwaway server of scripts/postgres (started if needed)."""
    script = ROOT / "scripts" / "postgres"
    return subprocess.run(["bash", str(script)], check=True, capture_output=True, text=True).stdout.strip()


async def bench_store(kind: str, args: argparse.Namespace, work: Path) -> dict[str, float]:
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{work / 'center.db'}"
    else:
        base = await asyncio.to_thread(postgres_base)
        import asyncpg

        u = make_url(base)
        name = f"bench_center_api_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(host=u.host, port=u.port, user=u.username, database="postgres")
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        url = u.set(database=name).render_as_string(hide_password=False)
    store = Store.connect(url)
    t0 = time.perf_counter()
    await store.migrate()
    out = {"migrate_s": time.perf_counter() - t0}
    out |= await seed(store, args)
    await store.close()
    port = 18000 + random.randint(0, 999)
    proc = start_server(url, work, port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as probe:
            await wait_ready(probe, proc, work)
        out |= await measure(f"http://127.0.0.1:{port}", args, proc.pid, url)
        if kind == "postgresql" and args.replicas > 1:  # replicas of one center share the database
            out |= await replicas(url, work, port, proc, args)
    finally:
        proc.terminate()
        proc.wait(30)
    if kind != "sqlite":
        conn = await asyncpg.connect(host=u.host, port=u.port, user=u.username, database="postgres")
        await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await conn.close()
    return {f"{kind}_{k}": round(v, 3) for k, v in out.items()}


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stores", default="sqlite,postgresql")
    p.add_argument("--clusters", type=int, default=1000)
    p.add_argument("--cases", type=int, default=50)
    p.add_argument("--days", type=int, default=30, help="days of hourly rollups of every case")
    p.add_argument(
        "--hourly-hours",
        type=int,
        default=24,
        help="hours of hourly rollups before the watermark (the first day of the window gets them too)",
    )
    p.add_argument("--raw-runs", type=int, default=1_000_000)
    p.add_argument("--raw-hours", type=int, default=24)
    p.add_argument("--requests", type=int, default=300, help="requests per latency measurement")
    p.add_argument("--ingest", type=int, default=50_000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--clients", type=int, default=2)
    p.add_argument(
        "--replicas",
        type=int,
        default=2,
        help="PostgreSQL only: ingestion again with this many center servers on the one database",
    )
    args = p.parse_args()
    results: dict[str, float] = {}
    for kind in args.stores.split(","):
        with tempfile.TemporaryDirectory(prefix=f"center-bench-{kind}-") as tmp:
            print(f"› {kind}", file=sys.stderr)
            results |= await bench_store(kind, args, Path(tmp))
            print(
                json.dumps({k: v for k, v in results.items() if k.startswith(kind)}, indent=1),
                file=sys.stderr,
            )
    targets: dict[str, list[Any]] = {}
    for kind in args.stores.split(","):
        targets |= {
            f"{kind}_runs_list_p99_ms": ["<=", 100],
            f"{kind}_health_24h_p99_ms": ["<=", 100],
            f"{kind}_health_720h_p99_ms": ["<=", 100],
            # SQLite: one embedded center; PostgreSQL: the scale setup, replicas sharing the database
            (
                f"{kind}_ingest_results_per_s"
                if kind == "sqlite"
                else f"{kind}_replicas_ingest_results_per_s"
            ): [
                ">=",
                5000 if kind == "sqlite" else 20000,
            ],
        }
    params = vars(args) | {
        "daily_rollup_rows": args.clusters * args.cases * args.days,
        "hourly_rollup_rows": args.clusters * args.cases * (args.hourly_hours + 24),
        "note": "client, server and database share the 2 cores",
    }
    path = write_result("center_api", params, results, targets)
    print(path, file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
