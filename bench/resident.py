"""Resident probes at scale: many ProbeConfigs at a 1 s interval in one operator process, and the
center's ingestion rate for batched resident reports.

Part 1, for each size in ``--probes`` (default 2000, 5000, 10000), in a fresh process: that many
ProbeConfigs at 1 s run by one ``ProbeOperator`` (its heap scheduler, denoising, token buckets, the
outbox). ``--api-probes`` of them (default 100) are real ``apiserver-read`` probes against a sandbox
API server (started here, or ``--kubeconfig``), sharing the operator's keep-alive connection pool;
the rest are ``in-process`` checks (no I/O: a counter is read, so what is measured is the resident
machinery around a probe). Recorded: scheduling lateness (actual start - scheduled start)
p50/p99/max, runs/s against the expected rate, skipped ticks, CPU per run, RSS per probe (RSS after
starting every loop and warming up, minus RSS before, / probes), and the API probes' own
success count. Beside it, the floor: the lateness a bare asyncio timer loop in another process
sees at the same time (what the machine's load alone costs).

Part 2 starts ``kubeprobe server`` on SQLite and, with ``--database-url``, on PostgreSQL, and POSTs
``--reports`` summaries in batches of ``--batch`` to ``/api/v1/resident/reports`` from
``--clients`` clients; reports per second and per server-CPU-second (the figure that does not
depend on the machine's load). On PostgreSQL once more with ``--replicas`` center servers sharing
the database, 2 clients each (``*_postgresql_replicas``: the scale setup the 20,000/s target is
read from on PostgreSQL).

    .venv/bin/python -m bench.resident [--probes 2000,5000,10000] [--seconds 20] [--reports 100000]
        [--database-url postgresql+asyncpg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from array import array
from pathlib import Path
from typing import Any

import httpx
import psutil
from rich.console import Console

from bench.center_api import TOKEN, settle, start_server, wait_ready
from bench.common import write_result
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.config import ClusterConnection, load_kubeconfig
from kubeprobe.operator.probes import ApiServerReadProbe, Probe, ProbeRegistry
from kubeprobe.operator.reporting import percentile
from kubeprobe.operator.runtime import ProbeOperator
from kubeprobe.operator.settings import OperatorSettings
from kubeprobe.operator.spec import ProbeConfigSpec

console = Console(stderr=True)
#: The cluster the reports name; the center only stores its (unreachable) connection.
KUBECONFIG = """
apiVersion: v1
kind: Config
current-context: ctx
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: bench}}]
contexts: [{name: ctx, context: {cluster: c, user: u}}]
"""
probes = ProbeRegistry()
probes.register("apiserver-read")(ApiServerReadProbe)


@probes.register("in-process")
class InProcessCheck(Probe):
    """No I/O: reads a counter and fails if it went backwards. The cost measured is the machinery."""

    eager = True
    counter = 0

    async def run(self) -> None:
        seen = InProcessCheck.counter
        InProcessCheck.counter = seen + 1
        if InProcessCheck.counter <= seen:
            raise ValueError("counter went backwards")


def _rss() -> int:
    gc.collect()
    return int(psutil.Process().memory_info().rss)


def _ms(values: array[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": percentile(ordered, 50),
        "p99": percentile(ordered, 99),
        "max": ordered[-1] if ordered else 0.0,
    }


async def one_size(args: argparse.Namespace, work: Path) -> dict[str, float]:
    """Part 1 for ``--one`` configs, ``--api-probes`` of them against the API server (own process)."""
    n, api, kubeconfig, seconds, warmup = (
        args.one,
        args.api_probes,
        args.kubeconfig,
        args.seconds,
        args.warmup,
    )
    settings = OperatorSettings(cluster="bench", buffer_path=work / f"buffer-{n}.db")
    conn = load_kubeconfig(kubeconfig) if api else ClusterConnection(server="http://127.0.0.1:9", context="b")
    kube = KubeClient(conn, connections=settings.api_connections)  # as the operator sizes its pool
    op = ProbeOperator(kube, settings, probes=probes, write_status=False)
    await op.start()
    rss0 = _rss()
    for i in range(n):
        kind = "apiserver-read" if i < api else "in-process"
        spec = ProbeConfigSpec("default", f"p{i:05d}", kind, interval=1.0, timeout=1.0, summary_interval=60)
        await op.upsert(spec)
    await asyncio.sleep(warmup)
    rss1 = _rss()
    sched = op.scheduler
    sched.lateness_ms = array("d")
    proc = psutil.Process()
    loops = list(op.loops.values())
    runs0 = sum(loop.denoiser.runs for loop in loops)
    skipped0 = sched.skipped
    api_ok0 = sum(loop.denoiser.oks for loop in loops[:api])
    cpu0 = sum(proc.cpu_times()[:2])
    t0 = time.perf_counter()
    await asyncio.sleep(seconds)
    elapsed = time.perf_counter() - t0
    cpu = sum(proc.cpu_times()[:2]) - cpu0
    runs = sum(loop.denoiser.runs for loop in loops) - runs0
    api_runs = sum(loop.denoiser.runs for loop in loops[:api])
    api_ok = sum(loop.denoiser.oks for loop in loops[:api]) - api_ok0
    late = _ms(sched.lateness_ms)
    skipped = sched.skipped - skipped0
    await op.stop()
    await kube.close()
    op.buffer.close()
    return {
        "lateness_p50_ms": late["p50"],
        "lateness_p99_ms": late["p99"],
        "lateness_max_ms": late["max"],
        "runs_per_s": runs / elapsed,
        "expected_runs_per_s": float(n),
        "skipped_ticks": float(skipped),
        "cpu_per_run_us": cpu / runs * 1e6 if runs else 0.0,
        "cpu_cores_used": cpu / elapsed,
        "rss_per_probe_kb": (rss1 - rss0) / n / 1024,
        "rss_total_mb": rss1 / 2**20,
        "api_probes": float(api),
        "api_runs_ok_per_s": api_ok / elapsed,
        "api_runs_total": float(api_runs),
    }


async def floor(seconds: float) -> dict[str, float]:
    """A bare asyncio loop waking every 1 ms: the lateness the machine alone gives a process."""
    loop = asyncio.get_running_loop()
    late: array[float] = array("d")
    end = loop.time() + seconds
    while (due := loop.time() + 0.001) < end:
        await asyncio.sleep(0.001)
        late.append(max(0.0, loop.time() - due) * 1000)
    got = _ms(late)
    return {"floor_lateness_p50_ms": got["p50"], "floor_lateness_p99_ms": got["p99"]}


def _child(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bench.resident", *args], stdout=subprocess.PIPE)


def _read(proc: subprocess.Popen[bytes]) -> dict[str, float]:
    out, _ = proc.communicate(timeout=1800)
    if proc.returncode:
        raise RuntimeError(f"bench child failed with exit code {proc.returncode}")
    result: dict[str, float] = json.loads(out)
    return result


def scheduling(args: argparse.Namespace, kubeconfig: str) -> dict[str, float]:
    results: dict[str, float] = {}
    for n in args.probe_sizes:
        api = min(args.api_probes, n)
        base = ["--seconds", str(args.seconds), "--warmup", str(args.warmup), "--kubeconfig", kubeconfig]
        child = _child("--one", str(n), "--api-probes", str(api), *base)
        time.sleep(args.warmup)  # the floor is measured while the configs run, not while they start
        floor_proc = _child("--floor", str(args.seconds))
        got = _read(child) | _read(floor_proc)
        got["load_average_1m"] = os.getloadavg()[0]
        console.print(n, got)
        suffix = "" if n == max(args.probe_sizes) else f"_at_{n}"
        results |= {f"{k}{suffix}": v for k, v in got.items()}
    return results


def _summary(i: int, now: dt.datetime, cases: int) -> dict[str, Any]:
    """Report ``i``: every tenth a state change, the others summaries of 60 runs."""
    end = now - dt.timedelta(seconds=i % 3600)
    if i % 10 == 0:
        return {
            "key": uuid.uuid4().hex,
            "kind": "state",
            "cluster": "bench",
            "case": f"resident-bench-p{i % cases:05d}",
            "config": f"bench/p{i % cases:05d}",
            "probe": "light",
            "at": end.isoformat(),
            "state": "failing" if i % 20 else "healthy",
            "previous": "degraded",
            "reason": "3 of the last 5 runs failed",
            "message": "API server timed out" if i % 20 else "",
            "consecutive_failures": 3 if i % 20 else 0,
            "success_ratio": 0.97,
            "duration_ms": 12.5,
        }
    return {
        "key": uuid.uuid4().hex,
        "kind": "summary",
        "cluster": "bench",
        "case": f"resident-bench-p{i % cases:05d}",
        "config": f"bench/p{i % cases:05d}",
        "probe": "light",
        "at": end.isoformat(),
        "state": "healthy" if i % 50 else "degraded",
        "period_start": (end - dt.timedelta(seconds=60)).isoformat(),
        "period_end": end.isoformat(),
        "runs": 60,
        "ok": 60 if i % 50 else 59,
        "failed": 0 if i % 50 else 1,
        "errors": 0,
        "latency_ms": {"p50": 1.5, "p95": 4.0, "p99": 9.0, "max": 12.0},
        "consecutive_failures": 0,
    }


async def _fresh_database(url: str) -> str:
    """A new, empty database on the PostgreSQL server of ``url`` (the bench never reuses one)."""
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    name = f"bench_resident_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(
        host=u.host, port=u.port, user=u.username, password=u.password, database="postgres"
    )
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return u.set(database=name).render_as_string(hide_password=False)


async def _drop_database(url: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conn = await asyncpg.connect(
        host=u.host, port=u.port, user=u.username, password=u.password, database="postgres"
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
    finally:
        await conn.close()


def _postgres_cpu(database: str) -> float:
    """CPU seconds of the PostgreSQL backends serving ``database`` (0 on SQLite)."""
    total = 0.0
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info.get("cmdline") or ())
        if database and cmd.startswith("postgres:") and f" {database} " in cmd:
            with contextlib.suppress(psutil.Error):
                total += sum(proc.cpu_times()[:2])
    return total


async def ingestion(
    args: argparse.Namespace, work: Path, url: str, suffix: str, replicas: int = 1
) -> dict[str, float]:
    """Part 2 on the store at ``url`` with ``replicas`` center servers sharing it (2 clients each
    when more than one); metric names end in ``suffix``."""
    port = args.port
    database = ""
    if url.startswith("postgresql"):
        url = await _fresh_database(url)
        database = url.rsplit("/", 1)[-1]
    procs: list[subprocess.Popen[bytes]] = []
    clients = args.clients if replicas == 1 else 2 * replicas
    headers = {"Authorization": f"Bearer {TOKEN}"}
    https = [
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port + i}", headers=headers, timeout=300)
        for i in range(replicas)
    ]
    try:
        for i in range(replicas):
            data = work / f"replica-{i}" if i else work
            data.mkdir(exist_ok=True)
            procs.append(start_server(url, data, port + i))
            await wait_ready(https[i], procs[i], data)
        for proc in procs:  # start-up work (the RCA classifier's first fit, a roll-up) is over
            await settle(psutil.Process(proc.pid), url)
        client = https[0]
        resp = await client.post("/api/v1/clusters", json={"name": "bench", "kubeconfig": KUBECONFIG})
        resp.raise_for_status()
        now = dt.datetime.now(dt.UTC)
        cases = min(max(args.probe_sizes), 10_000)
        for start in range(0, cases, args.batch):  # warm-up: creates every case once
            batch = [_summary(i, now, cases) for i in range(start, min(cases, start + args.batch))]
            (await client.post("/api/v1/resident/reports", json={"reports": batch})).raise_for_status()
        n = args.batch
        queue = [
            json.dumps({"reports": [_summary(b * n + i, now, cases) for i in range(n)]}).encode()
            for b in range(1, args.reports // n + 1)
        ]

        async def worker(i: int) -> int:
            done = 0
            while queue:
                body = queue.pop()
                r = await https[i % replicas].post(
                    "/api/v1/resident/reports", content=body, headers={"content-type": "application/json"}
                )
                r.raise_for_status()
                done += int(r.json()["accepted"])
            return done

        servers = [psutil.Process(p.pid) for p in procs]
        cpu0, db0 = sum(sum(s.cpu_times()[:2]) for s in servers), _postgres_cpu(database)
        t0 = time.perf_counter()
        try:
            accepted = sum(await asyncio.gather(*(worker(i) for i in range(clients))))
        except httpx.HTTPError:
            log = work / "server.log"
            console.print(f"server log (exit code {procs[0].poll()}):\n{log.read_text()[-4000:]}")
            raise
        elapsed = time.perf_counter() - t0
        cpu = sum(sum(s.cpu_times()[:2]) for s in servers) - cpu0
        db = _postgres_cpu(database) - db0
        stored = await client.get("/api/v1/resident/reports", params={"limit": 1})
        stored.raise_for_status()
    finally:
        for h in https:
            await h.aclose()
        for proc in procs:
            proc.terminate()
            proc.wait(30)
        if database:
            await _drop_database(url)
    out = {
        f"ingest_reports_per_s{suffix}": accepted / elapsed,
        f"ingest_reports{suffix}": float(accepted),
        f"ingest_reports_per_server_cpu_s{suffix}": accepted / cpu if cpu else 0.0,
        f"ingest_load_average_1m{suffix}": os.getloadavg()[0],
    }
    if database:
        out[f"ingest_postgres_backend_cpu_s{suffix}"] = db
        out[f"ingest_reports_per_server_and_db_cpu_s{suffix}"] = accepted / (cpu + db) if cpu + db else 0.0
    return out


def _sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--probes: {text!r} is not a comma-separated list of counts"
        ) from None
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError(f"--probes: {text!r} needs counts of at least 1")
    return sizes


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--probes", dest="probe_sizes", type=_sizes, default=[2000, 5000, 10_000])
    p.add_argument("--api-probes", type=int, default=100, help="configs that read the sandbox API server")
    p.add_argument(
        "--kubeconfig", default="", help="a running cluster for the API probes (default: a sandbox)"
    )
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--warmup", type=float, default=5)
    p.add_argument("--reports", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--clients", type=int, default=2)
    p.add_argument("--port", type=int, default=18931)
    p.add_argument("--database-url", default="", help="also measure ingestion on this PostgreSQL")
    p.add_argument(
        "--replicas",
        type=int,
        default=2,
        help="PostgreSQL only: ingestion again with this many center servers on the one database",
    )
    p.add_argument("--skip-ingestion", action="store_true")
    p.add_argument("--skip-scheduling", action="store_true")
    p.add_argument("--one", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--floor", type=float, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory(prefix="kubeprobe-bench-resident-") as tmp:
            got = await one_size(args, Path(tmp))
        print(json.dumps(got))
        return
    if args.floor:
        print(json.dumps(await floor(args.floor)))
        return
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="kubeprobe-bench-resident-") as tmp:
        if not args.skip_scheduling:
            results |= await _scheduling_with_cluster(args)
        if not args.skip_ingestion:
            results |= await ingestion(args, Path(tmp), f"sqlite+aiosqlite:///{Path(tmp) / 'center.db'}", "")
            console.print(results)
            if args.database_url:
                results |= await ingestion(args, Path(tmp), args.database_url, "_postgresql")
                console.print(results)
                if args.replicas > 1:
                    results |= await ingestion(
                        args, Path(tmp), args.database_url, "_postgresql_replicas", args.replicas
                    )
                    console.print(results)
    results["load_average_1m"] = os.getloadavg()[0]
    path = write_result(
        "resident",
        {
            "probes": args.probe_sizes,
            "api_probes": args.api_probes,
            "other_probes": "in-process check (no I/O)",
            "interval_s": 1,
            "seconds": args.seconds,
            "reports": args.reports,
            "batch": args.batch,
            "clients": args.clients,
            "replicas": args.replicas,
            "stores": ["sqlite", "postgresql"] if args.database_url else ["sqlite"],
        },
        results,
        {
            "lateness_p99_ms": ["<=", 50],
            "rss_per_probe_kb": ["<=", 60],
            "ingest_reports_per_s": [">=", 20_000],
            # PostgreSQL at scale: replicas of the center share the database
            "ingest_reports_per_s_postgresql_replicas": [">=", 20_000],
        },
    )
    console.print(f"wrote {path}")


async def _scheduling_with_cluster(args: argparse.Namespace) -> dict[str, float]:
    if args.kubeconfig or not args.api_probes:
        return await asyncio.to_thread(scheduling, args, args.kubeconfig)
    from kubeprobe.sandbox.build import Builder
    from kubeprobe.sandbox.cluster import Sandbox

    box = Sandbox(f"bench-resident-{uuid.uuid4().hex[:6]}")
    await box.up(Builder().build(), node_count=1)
    try:
        return await asyncio.to_thread(scheduling, args, str(box.kubeconfig))
    finally:
        box.down()


if __name__ == "__main__":
    asyncio.run(main())
