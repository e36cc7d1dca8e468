"""Alerting throughput on the embedded SQLite store: signals through IncidentService.observe (with
many open incidents, fleet correlation and resolution), and notifications delivered to a local webhook.

    .venv/bin/python -m bench.alerting [--clusters 50] [--cases 10] [--rounds 4] [--deliveries 500]

Writes bench/results/alerting.json. The issue sets no numeric target for alerting; the figures are
per signal and per CPU-second so that they stay comparable on a shared, noisy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import func, select
from tests.alerting.receivers import Receivers

from bench.common import write_result
from kubeprobe.alerting.signals import Outcome, Signal
from kubeprobe.center.auth import Principal
from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.schemas.alerting import ReceiverIn, RouteIn
from kubeprobe.center.services.alerting import IncidentService
from kubeprobe.center.store import routing
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.tables.alerting import DeliveryRow, IncidentRow

CAUSES = ("scheduling.scheduler_down", "etcd.unavailable", "admission.webhook_failure", "node.not_ready")


def make_signal(cluster: int, case: int, outcome: Outcome, at: dt.datetime) -> Signal:
    return Signal(
        run_id=f"r-{cluster}-{case}-{at.timestamp()}",
        cluster=f"c{cluster}",
        case=f"case-{case}",
        outcome=outcome,
        at=at,
        cluster_labels={"env": "prod" if cluster % 2 else "dev"},
        step="create",
        message="failed",
        cause=CAUSES[(cluster + case) % len(CAUSES)],
        confidence=0.8,
        priority="P2",
        action="notify",
        run_url=f"http://center/runs/{cluster}-{case}",
    )


async def main(args: argparse.Namespace) -> None:
    load_start = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="kp-bench-alerting-"))
    store = Store.connect(f"sqlite+aiosqlite:///{tmp / 'center.db'}")
    await store.migrate()
    box = SecretBox(Fernet.generate_key())
    hook = Receivers()
    await hook.start()
    admin = Principal("bench", "admin")
    async with store.transaction() as s:
        body = ReceiverIn(name="hook", kind="webhook", secrets={"url": f"{hook.url}/hook"})
        await routing.put_receiver(s, box, body, admin, create=True)
        await routing.put_route(
            s, RouteIn(name="all", receivers=["hook"], is_default=True), admin, create=True
        )
    svc = IncidentService(store, box)
    t0 = dt.datetime.now(dt.UTC)
    latencies: list[float] = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    n = 0
    for r in range(args.rounds):
        outcome = Outcome.FAILED if r < args.rounds - 1 else Outcome.PASSED
        for cluster in range(args.clusters):
            for case in range(args.cases):
                start = time.perf_counter()
                await svc.observe(make_signal(cluster, case, outcome, t0 + dt.timedelta(seconds=n)))
                latencies.append((time.perf_counter() - start) * 1000)
                n += 1
    observe_cpu, observe_wall = time.process_time() - cpu0, time.perf_counter() - wall0
    async with store.transaction() as s:
        incidents = (await s.execute(select(func.count()).select_from(IncidentRow))).scalar_one()
        fleets = (await s.execute(select(func.count()).where(IncidentRow.scope == "fleet"))).scalar_one()
        queued = (await s.execute(select(func.count()).select_from(DeliveryRow))).scalar_one()
    # deliveries: what the signals queued, plus more to reach --deliveries
    async with store.transaction() as s:
        first = (await s.execute(select(DeliveryRow).limit(1))).scalar_one()
        for _ in range(max(0, args.deliveries - queued)):
            extra = {"state": "pending", "attempts": 0, "next_attempt": t0, "last_error": "", "created": t0}
            s.add(
                DeliveryRow(
                    incident_id=first.incident_id,
                    receiver="hook",
                    event="reminder",
                    payload=first.payload,
                    **extra,
                )
            )
    total = max(queued, args.deliveries)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    sent = 0
    while sent < total:
        got = await svc.deliver_due()
        if got == 0:
            break
        sent += got
    deliver_cpu, deliver_wall = time.process_time() - cpu0, time.perf_counter() - wall0
    await svc.close()
    await hook.stop()
    await store.close()
    lat = sorted(latencies)
    results = {
        "signals": n,
        "incidents": incidents,
        "fleet_incidents": fleets,
        "observe_mean_ms": round(statistics.fmean(lat), 2),
        "observe_p50_ms": round(lat[len(lat) // 2], 2),
        "observe_p95_ms": round(lat[int(len(lat) * 0.95)], 2),
        "observe_signals_per_s": round(n / observe_wall, 1),
        "observe_signals_per_cpu_s": round(n / max(observe_cpu, 1e-9), 1),
        "deliveries_sent": sent,
        "deliveries_per_s": round(sent / deliver_wall, 1),
        "deliveries_per_cpu_s": round(sent / max(deliver_cpu, 1e-9), 1),
        "load_average_1m_start": round(load_start, 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    params = {"clusters": args.clusters, "cases": args.cases, "rounds": args.rounds, "store": "sqlite"}
    path = write_result("alerting", params, results, {})
    print(path)
    for k, v in results.items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=50)
    parser.add_argument("--cases", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=4, help="failing rounds, then one passing round")
    parser.add_argument("--deliveries", type=int, default=500)
    asyncio.run(main(parser.parse_args()))
