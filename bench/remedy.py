"""Defender decision latency with 10,000 nodes under watch (issue 18).

A `NodeHealthView` holds 10,000 nodes in 20 pools (real Node JSON, as a watch delivers it); between
decisions, node watch events flip nodes between Ready and NotReady, as a live watch would. Each
decision is a full `Defender.decide` (freezes, storms, breaker, slot, caps, buckets, gap, audit,
compare-and-set commit) for a node drain or a pod delete, on the in-memory store and on the
center's SQL store (SQLite; PostgreSQL with ``--db URL``); granted attempts are finished with an
outcome so the state holds a realistic handful of slots. Baseline in the same run: the same
decisions over a `StaticClusterHealth` that counts the 10,000 nodes on every question (what the
view's per-pool counters avoid).

Fault to healed (``--heal-runs N --sandbox NAME``, alone: ``bench/results/remedy_heal.json``): on a
running sandbox, a dispatching center with self-healing and an ``auto`` crash-loop policy; each run
makes a Deployment whose pod crash-loops and times, from the fault, the failed inspection
(detected), the proposal, the pod deleted and verified, and the incident resolved after the
inspection passes again (`tests/remedy/test_fault_to_healed.py`'s loop). The defender's default
rate (burst 3 per action and cluster) bounds a run to 3 heals.

The node case (``--node-runs N --sandbox NAME``, a sandbox with a real node, alone:
``bench/results/remedy_node.json``): the node agent installed with the operator chart, a center
with an ``auto`` node.not_ready policy (drain, restart the kubelet through the agent, uncordon;
``KUBEPROBE_REMEDY_ACTION_BURST`` raised so N runs fit); each run stops the real node's kubelet and
times, from the fault, NotReady (the node controller's grace period, 50 s in the sandbox), the
failed node-probe (run once the node is NotReady), the last step verified (healed) and the
incident resolved after node-probe passes again (`tests/remedy/node_heal.py`).

    .venv/bin/python -m bench.remedy [--nodes 10000] [--decisions 2000] [--db URL]
    .venv/bin/python -m bench.remedy --heal-runs 3 --sandbox NAME
    .venv/bin/python -m bench.remedy --node-runs 10 --sandbox NAME
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from typing import Any

from bench.common import write_result
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.remedy import SqlDefenderStore
from kubeprobe.remedy.defender import (
    CapSettings,
    ClusterHealth,
    Defender,
    DefenderSettings,
    DefenderStore,
    MemoryDefenderStore,
    Mode,
    Observation,
    Outcome,
    RateSettings,
    Request,
    RiskTier,
    StaticClusterHealth,
    Target,
)
from kubeprobe.remedy.health import NodeHealthView

POOLS = 20
SETTINGS = DefenderSettings(
    caps=CapSettings(pool_nodes=5, cluster_nodes=50, in_flight_per_cluster=20),
    rates=RateSettings(
        action_per_hour=1e6, action_burst=50, fleet_per_hour=1e6, fleet_burst=100, disruptive_gap_seconds=0
    ),
)


def node(i: int, ready: bool) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"node-{i}",
            "labels": {"kubeprobe.io/pool": f"p{i % POOLS}", "kubernetes.io/hostname": f"node-{i}"},
            "resourceVersion": str(i),
        },
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "DiskPressure", "status": "False"},
                {"type": "PIDPressure", "status": "False"},
                {"type": "Ready", "status": "True" if ready else "False"},
            ]
        },
    }


def request(rng: random.Random, i: int, nodes: int) -> Request:
    if rng.random() < 0.5:
        n = rng.randrange(nodes)
        target = Target("c1", "Node", f"node-{n}", pool=f"p{n % POOLS}")
        return Request(f"r{i}", "node-drain", RiskTier.DISRUPTIVE, target, Mode.AUTO)
    return Request(
        f"r{i}", "pod-delete", RiskTier.REVERSIBLE, Target("c1", "Pod", f"pod-{i}", "apps"), Mode.AUTO
    )


async def run(
    store: DefenderStore, health: ClusterHealth, view: NodeHealthView | None, nodes: int, decisions: int
) -> list[float]:
    rng, defender = random.Random(7), Defender(store, SETTINGS, replica="bench")
    latencies = []
    for i in range(decisions):
        if view is not None:
            for _ in range(10):  # watch events arriving between decisions
                n = rng.randrange(nodes)
                view.apply("MODIFIED", node(n, rng.random() > 0.002))
        obs = Observation(health, fleet_clusters=10)
        start = time.perf_counter()
        decision = await defender.decide(request(rng, i, nodes), obs)
        latencies.append((time.perf_counter() - start) * 1000)
        if decision.lease is not None:
            await defender.record_outcome(decision.lease.target, decision.lease.token, Outcome.VERIFIED)
    return latencies


def p99(values: list[float]) -> float:
    return round(statistics.quantiles(values, n=100)[98], 3)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=10_000)
    ap.add_argument("--decisions", type=int, default=2_000)
    ap.add_argument("--db", default="", help="a PostgreSQL URL (an empty database) beside SQLite")
    ap.add_argument("--heal-runs", type=int, default=0, help="only fault-to-healed, this many times")
    ap.add_argument(
        "--node-runs", type=int, default=0, help="only the node case (real node), this many times"
    )
    ap.add_argument("--sandbox", default="", help="the running sandbox for --heal-runs / --node-runs")
    args = ap.parse_args()
    if args.node_runs:
        from bench.remedy_node import node_bench

        await node_bench(args.sandbox, args.node_runs)
        return
    if args.heal_runs:
        from bench.remedy_heal import heal_bench

        await heal_bench(args.sandbox, args.heal_runs)
        return
    view = NodeHealthView()
    start = time.perf_counter()
    view.replace_all([node(i, i % 200 != 0) for i in range(args.nodes)])
    results: dict[str, float] = {"view_load_10k_nodes_ms": round((time.perf_counter() - start) * 1000, 1)}
    view.reachable = True
    mem = await run(MemoryDefenderStore(), view, view, args.nodes, args.decisions)
    results |= {
        "memory_decision_p50_ms": round(statistics.median(mem), 3),
        "memory_decision_p99_ms": p99(mem),
    }
    static = StaticClusterHealth({f"node-{i}": (f"p{i % POOLS}", i % 200 != 0) for i in range(args.nodes)})
    scan = await run(MemoryDefenderStore(), static, None, args.nodes, max(200, args.decisions // 10))
    results["scan_baseline_decision_p99_ms"] = p99(scan)
    dbs = {"sqlite": f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/remedy.db"}
    if args.db:
        dbs["postgresql"] = args.db
    for name, url in dbs.items():
        store = Store.connect(url)
        await store.migrate()
        try:
            sql = await run(SqlDefenderStore(store), view, view, args.nodes, args.decisions // 4)
        finally:
            await store.close()
        results |= {
            f"{name}_decision_p50_ms": round(statistics.median(sql), 3),
            f"{name}_decision_p99_ms": p99(sql),
        }
    results["load_1m"] = round(os.getloadavg()[0], 2)
    params = {
        "nodes": args.nodes,
        "pools": POOLS,
        "decisions": args.decisions,
        "watch_events_per_decision": 10,
    }
    path = write_result("remedy", params, results, {})
    print(path.read_text())


if __name__ == "__main__":
    asyncio.run(main())
