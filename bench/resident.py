"""Resident probes at scale: many light ProbeConfigs at a 1 s interval in one operator process,
and the center's ingestion rate for batched resident reports.

Part 1 runs ``--probes`` ProbeConfig loops (a "light" probe that does no I/O, so the numbers are the
operator's own cost: scheduling, denoising, stats, token buckets, the outbox) inside one
``ProbeOperator`` for ``--seconds`` after a warm-up, and records scheduling lateness p50/p99, CPU per
run, RSS per probe (RSS after starting all loops and warming up, minus RSS before, / probes).
Part 2 starts ``kubeprobe server`` (SQLite unless ``--database-url``) and POSTs ``--reports``
summaries in batches of ``--batch`` to ``/api/v1/resident/reports`` from ``--clients`` clients.

    .venv/bin/python -m bench.resident [--probes 10000] [--seconds 30] [--reports 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil
from rich.console import Console

from bench.center_api import TOKEN, start_server, wait_ready
from bench.common import write_result
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.config import ClusterConnection
from kubeprobe.operator.probes import Probe, ProbeRegistry
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
light = ProbeRegistry()


@light.register("light")
class LightProbe(Probe):
    """No I/O: what is measured is the resident machinery around a probe."""

    async def run(self) -> None:
        return None


def _rss() -> int:
    gc.collect()
    return int(psutil.Process().memory_info().rss)


async def resident(args: argparse.Namespace, work: Path) -> dict[str, float]:
    settings = OperatorSettings(cluster="bench", buffer_path=work / "buffer.db")
    kube = KubeClient(ClusterConnection(server="http://127.0.0.1:9", context="bench"))
    op = ProbeOperator(kube, settings, probes=light, write_status=False)
    await op.start()
    rss0 = _rss()
    for i in range(args.probes):
        spec = ProbeConfigSpec("bench", f"p{i:05d}", "light", interval=1.0, timeout=1.0, summary_interval=60)
        await op.upsert(spec)
    console.print(f"{args.probes} loops started; warming up {args.warmup:.0f}s")
    await asyncio.sleep(args.warmup)
    rss1 = _rss()
    for loop in op.loops.values():
        loop.keep_lateness = True
    proc = psutil.Process()
    runs0 = sum(loop.denoiser.runs for loop in op.loops.values())
    cpu0 = sum(proc.cpu_times()[:2])
    t0 = time.perf_counter()
    await asyncio.sleep(args.seconds)
    elapsed = time.perf_counter() - t0
    cpu = sum(proc.cpu_times()[:2]) - cpu0
    runs = sum(loop.denoiser.runs for loop in op.loops.values()) - runs0
    lateness = sorted(x for loop in op.loops.values() for x in loop.lateness_ms)
    skipped = sum(loop.skipped for loop in op.loops.values())
    await op.stop()
    await kube.close()
    return {
        "lateness_p50_ms": percentile(lateness, 50),
        "lateness_p99_ms": percentile(lateness, 99),
        "lateness_max_ms": lateness[-1] if lateness else 0.0,
        "runs_per_s": runs / elapsed,
        "expected_runs_per_s": float(args.probes),
        "skipped_ticks": float(skipped),
        "cpu_per_run_us": cpu / runs * 1e6 if runs else 0.0,
        "cpu_cores_used": cpu / elapsed,
        "rss_per_probe_kb": (rss1 - rss0) / args.probes / 1024,
        "rss_total_mb": rss1 / 2**20,
    }


def _summary(i: int, now: dt.datetime, cases: int) -> dict[str, Any]:
    end = now - dt.timedelta(seconds=i % 3600)
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


async def ingestion(args: argparse.Namespace, work: Path) -> dict[str, float]:
    port = args.port
    url = args.database_url or f"sqlite+aiosqlite:///{work / 'center.db'}"
    proc = start_server(url, work, port)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=300
        ) as client:
            await wait_ready(client, proc, work)
            resp = await client.post("/api/v1/clusters", json={"name": "bench", "kubeconfig": KUBECONFIG})
            resp.raise_for_status()
            now = dt.datetime.now(dt.UTC)
            cases = min(args.probes, 10_000)
            for start in range(0, cases, args.batch):  # warm-up: creates every case once
                batch = [_summary(i, now, cases) for i in range(start, min(cases, start + args.batch))]
                (await client.post("/api/v1/resident/reports", json={"reports": batch})).raise_for_status()
            n = args.batch
            queue = [
                json.dumps({"reports": [_summary(b * n + i, now, cases) for i in range(n)]}).encode()
                for b in range(1, args.reports // n + 1)
            ]

            async def worker() -> int:
                done = 0
                while queue:
                    body = queue.pop()
                    r = await client.post(
                        "/api/v1/resident/reports", content=body, headers={"content-type": "application/json"}
                    )
                    r.raise_for_status()
                    done += int(r.json()["accepted"])
                return done

            server = psutil.Process(proc.pid)
            cpu0 = sum(server.cpu_times()[:2])
            t0 = time.perf_counter()
            accepted = sum(await asyncio.gather(*(worker() for _ in range(args.clients))))
            elapsed = time.perf_counter() - t0
            cpu = sum(server.cpu_times()[:2]) - cpu0
    finally:
        proc.terminate()
        proc.wait(30)
    return {
        "ingest_reports_per_s": accepted / elapsed,
        "ingest_reports": float(accepted),
        "ingest_reports_per_server_cpu_s": accepted / cpu if cpu else 0.0,
    }


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--probes", type=int, default=10_000)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--warmup", type=float, default=10)
    p.add_argument("--reports", type=int, default=50_000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--clients", type=int, default=2)
    p.add_argument("--port", type=int, default=18931)
    p.add_argument("--database-url", default="")
    p.add_argument("--skip-ingestion", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="kubeprobe-bench-resident-") as tmp:
        results = await resident(args, Path(tmp))
        console.print(results)
        if not args.skip_ingestion:
            results |= await ingestion(args, Path(tmp))
            console.print(results)
    results["load_average_1m"] = os.getloadavg()[0]
    store = "postgresql" if args.database_url.startswith("postgresql") else "sqlite"
    path = write_result(
        "resident",
        {
            "probes": args.probes,
            "interval_s": 1,
            "seconds": args.seconds,
            "reports": args.reports,
            "batch": args.batch,
            "store": store,
        },
        results,
        {
            "lateness_p99_ms": ["<=", 50],
            "rss_per_probe_kb": ["<=", 60],
            "ingest_reports_per_s": [">=", 20_000],
        },
    )
    console.print(f"wrote {path}")


if __name__ == "__main__":
    asyncio.run(main())
