"""Sandbox at scale: N kwok nodes and M pods on one machine.

Records creation times, RSS of etcd and kube-apiserver (peak and at rest), and the time of a bare
paginated LIST of all pods and all nodes: the floor that inspection benchmarks compare against.

    .venv/bin/python -m bench.sandbox_scale --nodes 10000 --pods 100000 [--keep]

``--keep`` leaves the sandbox running (name ``scale`` by default) for other benchmarks; running
again with the same name reuses what is there and only adds what is missing.

Nodes are created through the API; pods are bulk-loaded into etcd (one model pod goes through the
API and kwok, the API server keeps objects as JSON; see :mod:`kubeprobe.sandbox.scale`), unless
``--via-api`` creates every pod through the API server (about 7 ms of its CPU each).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.common import RssSampler, write_result
from kubeprobe.kube.client import KubeClient
from kubeprobe.sandbox.build import Builder
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.errors import SandboxStateError
from kubeprobe.sandbox.scale import populate

console = Console(stderr=True)


async def timed_list(kube: KubeClient, path: str, limit: int = 500) -> tuple[float, int]:
    """One paginated LIST of full objects, decoded: (seconds, items)."""
    start = time.perf_counter()
    count = 0
    async for page in kube.iter_pages(path, limit=limit):
        count += len(page.get("items") or [])
    return time.perf_counter() - start, count


def _dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


async def run(args: argparse.Namespace) -> dict[str, Any]:
    load_start = round(os.getloadavg()[0], 2)
    bin_dir = Builder().build()
    sandbox = Sandbox(args.name)
    start = time.perf_counter()
    await sandbox.up(
        bin_dir, node_count=0, node_lease_seconds=args.node_lease_seconds, json_storage=not args.via_api
    )
    up_s = time.perf_counter() - start
    pids = {c: sandbox.pid(c) or 0 for c in ("etcd", "kube-apiserver")}
    last = {"t": 0.0}

    def progress(what: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - last["t"] > 5 or done >= total:
            last["t"] = now
            console.print(f"  {what}: {done}/{total}")

    with RssSampler(pids) as rss:
        timing_results: dict[str, float] = {}
        if not args.measure_only:
            try:
                timings = await populate(
                    sandbox, nodes=args.nodes, pods=args.pods, namespaces=args.namespaces, progress=progress
                )
                timing_results = dict(timings.__dict__)
            except SandboxStateError as exc:  # e.g. kwok cannot start them all in time: keep measuring
                console.print(f"[yellow]population incomplete:[/] {exc}")
            console.print(f"populated: {timing_results}")
        async with sandbox.client(timeout=300) as kube:
            pod_times, node_times = [], []
            pod_count = node_count = 0
            for _ in range(args.repeats):
                t, pod_count = await timed_list(kube, "/api/v1/pods")
                pod_times.append(t)
                t, node_count = await timed_list(kube, "/api/v1/nodes")
                node_times.append(t)
            running_count = sum(
                1
                for p in await kube.list_all("/api/v1/pods", limit=5000)
                if p["status"].get("phase") == "Running"
            )
        rest = {name: rss.current_mb(name) for name in pids}
    results = {
        "load_avg_1m_start": load_start,
        "load_avg_1m_end": round(os.getloadavg()[0], 2),
        **({} if args.measure_only else {"sandbox_up_s": round(up_s, 2)}),
        **timing_results,
        "pods_running": running_count,
        "pods_listed": pod_count,
        "nodes_listed": node_count,
        "list_pods_s": round(statistics.median(pod_times), 3),
        "list_nodes_s": round(statistics.median(node_times), 3),
        "list_all_s": round(statistics.median(pod_times) + statistics.median(node_times), 3),
        "etcd_rss_mb": round(rest["etcd"], 1),
        "apiserver_rss_mb": round(rest["kube-apiserver"], 1),
        "etcd_peak_rss_mb": round(rss.peak_mb["etcd"], 1),
        "apiserver_peak_rss_mb": round(rss.peak_mb["kube-apiserver"], 1),
        "etcd_data_mb": round(_dir_mb(sandbox.folder / "etcd-data"), 1),
    }
    if not args.keep:
        sandbox.down()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--pods", type=int, default=100_000)
    parser.add_argument("--namespaces", type=int, default=20)
    parser.add_argument("--name", default="scale", help="sandbox name (default: scale)")
    parser.add_argument(
        "--node-lease-seconds",
        type=int,
        default=3600,
        help="kwok node lease (renewed every quarter of it); long, so 10,000 nodes stay Ready on a "
        "busy machine (at 240 s the renewals fell behind and nodes went NotReady). Default 3600.",
    )
    parser.add_argument("--repeats", type=int, default=3, help="LIST repetitions (median is kept)")
    parser.add_argument(
        "--via-api",
        action="store_true",
        help="create every pod through the API server (slow) instead of the etcd bulk loader",
    )
    parser.add_argument("--keep", action="store_true", help="leave the sandbox running")
    parser.add_argument(
        "--measure-only",
        action="store_true",
        help="skip population: measure a sandbox filled earlier (--keep)",
    )
    args = parser.parse_args()
    results = asyncio.run(run(args))
    path = write_result(
        "sandbox_scale",
        {
            "nodes": args.nodes,
            "pods": args.pods,
            "namespaces": args.namespaces,
            "node_lease_seconds": args.node_lease_seconds,
            "list_page_limit": 500,
            "repeats": args.repeats,
            "measure_only": args.measure_only,
            "pods_loaded": "through the API" if args.via_api else "bulk: etcd (one model pod via the API)",
        },
        results,
        {"pods_listed": [">=", args.pods], "nodes_listed": [">=", args.nodes]},
    )
    console.print_json(path.read_text())
    sys.exit(0 if results["pods_listed"] >= args.pods else 1)


if __name__ == "__main__":
    main()
