"""The fault suite: faults injected into a sandbox one after another while KubeProbe watches it as it
would in production, and what an on-call engineer would have received for each.

    nice -n 10 .venv/bin/python -m bench.fault_suite [--sandbox fault-suite] [--fault-free-s 1200]
        [--only NAME ...] [--interval-s 30] [--keep]
    # then the real-node scenarios, added to the same result file:
    nice -n 10 .venv/bin/python -m bench.fault_suite --real-nodes --rows-from fault_suite \
        --fault-free 0 --fault-free-from fault_suite --result fault_suite

Set-up: a sandbox (three kwok nodes), ``kubeprobe server`` on SQLite with the sandbox registered
under a ServiceAccount token, the built-in probes bound every ``--interval-s`` seconds (periodic
paths), and ``kubeprobe operator run`` with six ProbeConfigs that use the operator's default
interval, timeout and failure rule (resident paths: API read, API write, etcd, watch, scheduling,
the control plane's leader leases).

Per scenario (bench/fault_scenarios.py): wait until the center has no open incident, inject, poll
runs and incidents until an incident with the expected cause opened (or ``--detect-s`` passed),
keep watching ``--settle-s`` more for extra incidents, undo, wait until every incident resolved.
Recorded: detected, time to the first failed run and to the first incident (from the injection),
every incident opened (id, cause, confidence, cases) and whether the right cause was the only
one. An incident whose cause is the expected cause of an earlier scenario and not of this one is
a stale-cause incident. Last, a fault-free period with nothing injected: every incident and every
run that did not succeed in it is counted. Results are written after every scenario, so an
interrupted run leaves what it measured.

``--real-nodes`` adds one real node (kubelet, containerd, kube-proxy: ``kubeprobe sandbox up
--real-nodes``) and runs the scenarios only a real node can have (its runtime stopped, ...); the
kwok scenarios act on every node and are left to the run without it. ``--rows-from`` joins the two
runs' scenarios in one result file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from bench.center_api import start_server, wait_ready
from bench.fault_report import summarise
from bench.fault_scenarios import (
    CERT_SECRET,
    NAMESPACE,
    POOL_LABEL,
    Context,
    Scenario,
    center_kubeconfig,
    real_scenarios,
    scenarios,
    set_up_cluster,
)
from kubeprobe.kube.errors import ConflictError
from kubeprobe.operator.spec import API_VERSION, PLURAL
from kubeprobe.sandbox.build import Builder
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults
from kubeprobe.sandbox.nodebuild import NodeBuilder
from kubeprobe.sandbox.nodefaults import NodeFaults

console = Console(stderr=True)
TOKEN = "kp_bench-admin"
CLUSTER = "suite"
NOT_OK = ("failed", "error", "timed_out")
#: Built-in probes bound periodically, with the parameters the sandbox needs: the probe pods'
#: node pool, and step limits for kwok nodes (no image to pull: a pod is Running at once, so 15 s
#: is already many times what a step takes; the defaults are sized for real image pulls).
PERIODIC: dict[str, dict[str, Any]] = {
    "pod-lifecycle": {"node_selector": {POOL_LABEL: "true"}, "scheduled_seconds": 10, "running_seconds": 15},
    "deployment-lifecycle": {
        "available_seconds": 15,
        "scale_seconds": 15,
        "rollout_seconds": 20,
        "deleted_seconds": 20,
    },
    "apiserver-probe": {},
    "node-probe": {"running_seconds": 15, "deleted_seconds": 20},
    "certificate-probe": {"tls_secrets": [f"{NAMESPACE}/{CERT_SECRET}"]},
    "etcd-probe": {},  # endpoint filled in at set-up
}
#: Resident ProbeConfigs: only the probe and its parameters, every timing from the defaults.
RESIDENT: dict[str, dict[str, Any]] = {
    "api-read": {"probe": "apiserver-read"},
    "api-write": {"probe": "apiserver-write"},
    "etcd": {"probe": "etcd"},
    "watch": {"probe": "watch"},
    "scheduling": {"probe": "pod-scheduling", "params": {"nodeSelector": {POOL_LABEL: "true"}}},
    "leases": {"probe": "leader-leases"},
}
PROBES = {
    "periodic_cases": sorted(PERIODIC),
    "resident_configs": {k: v["probe"] for k, v in RESIDENT.items()},
}


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def parse_time(text: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


class Center:
    """The center's API as the suite reads it."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def incidents(self, **params: Any) -> list[dict[str, Any]]:
        resp = await self.client.get("/api/v1/incidents", params={"limit": 1000, **params})
        resp.raise_for_status()
        items: list[dict[str, Any]] = resp.json()["items"]
        return items

    async def bad_runs(self, since: dt.datetime) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for state in NOT_OK:
            resp = await self.client.get(
                "/api/v1/runs", params={"since": since.isoformat(), "state": state, "limit": 1000}
            )
            resp.raise_for_status()
            out += resp.json()["items"]
        return out


async def register(center: Center, kubeconfig: str, etcd_url: str, interval: float) -> None:
    c = center.client
    (await c.post("/api/v1/clusters", json={"name": CLUSTER, "kubeconfig": kubeconfig})).raise_for_status()
    for template, given in PERIODIC.items():
        params = {"endpoint": etcd_url} if template == "etcd-probe" else given
        name = f"suite-{template}"
        resp = await c.post("/api/v1/cases", json={"name": name, "template": template, "params": params})
        resp.raise_for_status()
        binding = {
            "name": name,
            "case": name,
            "cluster": CLUSTER,
            "interval_seconds": interval,
            "jitter_seconds": 0.0,
        }
        (await c.post("/api/v1/bindings", json=binding)).raise_for_status()


async def create_probe_configs(ctx: Context) -> None:
    async with ctx.kube() as kube:
        for name, given in RESIDENT.items():
            spec = {**given, "params": {"endpoint": ctx.etcd_url}} if given["probe"] == "etcd" else given
            body = {
                "apiVersion": API_VERSION,
                "kind": "ProbeConfig",
                "metadata": {"name": name},
                "spec": spec,
            }
            with contextlib.suppress(ConflictError):
                await kube.create(f"/apis/{API_VERSION}/namespaces/{NAMESPACE}/{PLURAL}", body)


def start_operator(sandbox: Sandbox, url: str, work: Path) -> subprocess.Popen[bytes]:
    entry = "from kubeprobe.cli.operator import operator_app; operator_app(prog_name='kubeprobe operator')"
    args = [
        sys.executable,
        "-c",
        entry,
        "run",
        "--kubeconfig",
        str(sandbox.kubeconfig),
        "--cluster",
        CLUSTER,
        "--center-url",
        url,
        "--center-token",
        TOKEN,
        "--buffer",
        str(work / "operator-buffer.db"),
        "--namespace",
        NAMESPACE,
        "--identity",
        "suite",
        "--standalone",
    ]
    log = (work / "operator.log").open("ab")
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)


async def quiet(center: Center, timeout: float) -> bool:
    """Until no incident is open (True) or ``timeout`` passed (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not await center.incidents(state="open"):
            return True
        await asyncio.sleep(2.0)
    return False


def _incident_row(inc: dict[str, Any], t0: dt.datetime) -> dict[str, Any]:
    """``seen_after_s``: when the suite first saw it (what an on-call engineer experiences);
    ``opened_after_s``: the incident's own ``opened``, the end of the run that opened it."""
    return {
        "id": inc["id"],
        "cause": inc["cause"],
        "confidence": inc["confidence"],
        "cases": inc["cases"],
        "seen_after_s": inc.get("seen_after_s", round((now() - t0).total_seconds(), 1)),
        "opened_after_s": round((parse_time(inc["opened"]) - t0).total_seconds(), 1),
    }


def _see(
    seen: dict[int, dict[str, Any]], known: set[int], incs: list[dict[str, Any]], t0: dt.datetime
) -> None:
    for inc in incs:
        if inc["id"] not in known and inc["id"] not in seen:
            seen[inc["id"]] = {**inc, "seen_after_s": round((now() - t0).total_seconds(), 1)}


async def detect(
    sc: Scenario,
    center: Center,
    args: argparse.Namespace,
    t0: dt.datetime,
    *,
    known: set[int],
    seen: dict[int, dict[str, Any]],
) -> tuple[float | None, float | None]:
    """Poll until an incident of the expected cause opened and ``--settle-s`` passed (or
    ``--detect-s``); fills ``seen`` with the incidents opened meanwhile."""
    first_bad: float | None = None
    right_at: float | None = None
    deadline = time.monotonic() + args.detect_s
    while time.monotonic() < deadline:
        try:
            bad = await center.bad_runs(t0)
            incs = await center.incidents()
        except httpx.HTTPError as exc:  # the center's own store is fine; say so and go on
            console.print(f"  [yellow]center read failed: {exc}[/]")
            await asyncio.sleep(1.0)
            continue
        if bad and first_bad is None:
            first_bad = min((parse_time(r["finished"] or r["created"]) - t0).total_seconds() for r in bad)
        _see(seen, known, incs, t0)
        if right_at is None:
            right = [i["seen_after_s"] for i in seen.values() if i["cause"] == sc.cause]
            if right:
                right_at = min(right)
                deadline = min(deadline, time.monotonic() + args.settle_s)
        await asyncio.sleep(0.5)
    return first_bad, right_at


async def run_scenario(
    sc: Scenario, ctx: Context, center: Center, args: argparse.Namespace, earlier: set[str]
) -> dict[str, Any]:
    recovered_before = await quiet(center, args.recover_s)
    known = {i["id"] for i in await center.incidents()}
    t0 = now()
    # Watched from the start of the injection: stopping a component can take seconds (a stopped
    # API server took 15 s) while KubeProbe already sees it fail.
    injecting = asyncio.create_task(sc.inject(ctx))
    injected_s = 0.0

    def injected(_: asyncio.Task[None]) -> None:
        nonlocal injected_s
        injected_s = (now() - t0).total_seconds()

    injecting.add_done_callback(injected)
    seen: dict[int, dict[str, Any]] = {}
    try:
        first_bad, right_at = await detect(sc, center, args, t0, known=known, seen=seen)
    finally:  # interrupted or not, the fault is undone (once it is fully in place)
        await injecting
        undo_start = now()
        await sc.undo(ctx)
    undone_s = (now() - undo_start).total_seconds()
    resolved = await quiet(center, args.recover_s)
    # The next fault starts only once every probe passed again after the undo: an incident of this
    # fault opened late must not be counted against the next one (stale causes).
    not_green = await green(center, args.recover_s, since=undo_start)
    _see(seen, known, await center.incidents(), t0)  # opened while recovering: still this scenario's
    opened = sorted((_incident_row(i, t0) for i in seen.values()), key=lambda r: r["id"])
    first_inc = min((r["seen_after_s"] for r in opened), default=None)
    stale = [r for r in opened if r["cause"] in earlier and r["cause"] != sc.cause]
    return {
        "name": sc.name,
        "what": sc.what,
        "cause": sc.cause,
        "resident": sc.resident,
        "recovered_before": recovered_before,
        "inject_s": round(injected_s, 1),
        "detected": right_at is not None,
        "first_failed_run_s": None if first_bad is None else round(first_bad, 1),
        "first_incident_s": first_inc,
        "right_incident_s": right_at,
        "incidents": opened,
        "right_cause_only": right_at is not None and {r["cause"] for r in opened} == {sc.cause},
        "stale_cause_incidents": len(stale),
        "undo_s": round(undone_s, 1),
        "resolved_after_undo": resolved,
        "green_after_undo": not not_green,
        "not_green": not_green,
    }


async def fault_free(center: Center, args: argparse.Namespace) -> dict[str, Any]:
    await quiet(center, args.recover_s)
    known = {i["id"] for i in await center.incidents()}
    t0 = now()
    console.print(f"fault-free period of {args.fault_free_s:g}s from {t0:%H:%M:%S}")
    await asyncio.sleep(args.fault_free_s)  # the period itself is what is measured, not a wait for state
    bad = await center.bad_runs(t0)
    new = [_incident_row(i, t0) for i in await center.incidents() if i["id"] not in known]
    runs = (await center.client.get("/api/v1/runs", params={"since": t0.isoformat(), "limit": 1000})).json()
    return {
        "fault_free_s": round((now() - t0).total_seconds(), 1),
        "fault_free_incidents": new,
        "fault_free_bad_runs": [{k: r[k] for k in ("case", "state", "messages")} for r in bad][:50],
        "fault_free_runs_seen": len(runs["items"]),
    }


async def green(center: Center, timeout: float, since: dt.datetime | None = None) -> list[str]:
    """Until every periodic case and resident config has a run created after ``since`` that
    succeeded and no incident is open; returns what is still missing ([] when green)."""
    want = {f"suite-{t}" for t in PERIODIC} | {f"resident-{NAMESPACE}-{n}" for n in RESIDENT}
    deadline = time.monotonic() + timeout
    seen: set[str] = set()
    params: dict[str, Any] = {"state": "succeeded", "limit": 1000}
    if since is not None:
        params["since"] = since.isoformat()
    while True:
        resp = await center.client.get("/api/v1/runs", params=params)
        seen |= {r["case"] for r in resp.json()["items"]}
        open_now = await center.incidents(state="open")
        missing = sorted(want - seen) + [f"incident {i['id']} ({i['cause']})" for i in open_now]
        if not missing or time.monotonic() >= deadline:
            return missing
        await asyncio.sleep(2.0)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL after 30 s (a process stuck on a hung API server ends either way)."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def fresh_folder(work: Path) -> None:
    """The center's and operator's files of an earlier run go: every run starts from nothing."""
    work.mkdir(parents=True, exist_ok=True)
    for name in ("center.db", "center.db-wal", "center.db-shm", "operator-buffer.db"):
        (work / name).unlink(missing_ok=True)


async def run(args: argparse.Namespace) -> None:
    sandbox = Sandbox(args.sandbox)
    if args.real_nodes:
        await sandbox.up(Builder().build(), node_count=3, real_nodes=1, node_bin_dir=NodeBuilder().build())
    else:
        await sandbox.up(Builder().build(), node_count=3)
    etcd_url = f"http://127.0.0.1:{sandbox.ports.etcd}"
    ctx = Context(sandbox, Faults(sandbox), etcd_url, NodeFaults(sandbox) if args.real_nodes else None)
    work = Path(args.work or sandbox.folder / "fault-suite")
    await asyncio.to_thread(fresh_folder, work)
    await set_up_cluster(ctx)
    db = work / "center.db"
    # a center that has run before has its classifier cached: the first scenario must not pay its training
    models = Path.home() / ".cache" / "kubeprobe" / "bench" / "models"
    os.environ["KUBEPROBE_ANALYSIS_MODEL_CACHE"] = str(models)
    server = start_server(f"sqlite+aiosqlite:///{db}", work, args.port)
    url = f"http://127.0.0.1:{args.port}"
    operator: subprocess.Popen[bytes] | None = None
    rows: list[dict[str, Any]] = []
    try:
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        ) as client:
            await wait_ready(client, server, work)
            center = Center(client)
            await register(center, await center_kubeconfig(sandbox), etcd_url, args.interval_s)
            await create_probe_configs(ctx)
            operator = start_operator(sandbox, url, work)
            if missing := await green(center, 300):
                raise RuntimeError(f"not green in 300 s: {missing}")
            console.print("green: every case and config succeeded once, no incident open")
            earlier: set[str] = set()
            every = real_scenarios() if args.real_nodes else scenarios()
            chosen = [s for s in every if args.only is None or s.name in args.only]
            for sc in chosen:
                console.print(f"[bold]{sc.name}[/] ({sc.what}) → expect {sc.cause}")
                row = await run_scenario(sc, ctx, center, args, earlier)
                earlier.add(sc.cause)
                rows.append(row)
                causes = [f"{i['cause']}@{i['seen_after_s']}s" for i in row["incidents"]]
                console.print(
                    f"  detected={row['detected']} first_failed={row['first_failed_run_s']}s "
                    f"right={row['right_incident_s']}s only={row['right_cause_only']} {causes}"
                )
                summarise(rows, None, args, PROBES)
            free = await fault_free(center, args) if args.fault_free_s > 0 else None
            summarise(rows, free, args, PROBES)
    finally:
        for proc in (operator, server):
            if proc is not None:
                stop(proc)
        if not args.keep:
            sandbox.down()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sandbox", default="fault-suite", help="Sandbox to start (or reuse).")
    parser.add_argument(
        "--work", default="", help="Folder for the center and operator (default: in the sandbox's)."
    )
    parser.add_argument("--port", type=int, default=18431)
    parser.add_argument("--interval-s", type=float, default=30.0, help="Interval of the periodic bindings.")
    parser.add_argument(
        "--detect-s", type=float, default=90.0, help="How long to wait for the right incident."
    )
    parser.add_argument("--settle-s", type=float, default=15.0, help="Watching on after the right incident.")
    parser.add_argument("--recover-s", type=float, default=150.0, help="Limit for incidents to resolve.")
    parser.add_argument(
        "--fault-free",
        "--fault-free-s",
        dest="fault_free_s",
        type=float,
        default=1200.0,
        help="Seconds without faults at the end (0: none).",
    )
    parser.add_argument(
        "--only", nargs="*", default=None, help="Run only these scenarios (none: only the fault-free period)."
    )
    parser.add_argument(
        "--fault-free-from", default="", help="Take the fault-free period from this result file (name)."
    )
    parser.add_argument(
        "--real-nodes",
        action="store_true",
        help="One real node beside the kwok nodes, and the scenarios that need it (not the kwok ones: "
        "those act on every node).",
    )
    parser.add_argument(
        "--rows-from",
        nargs="*",
        default=[],
        help="Put these result files' scenarios first (the other node kind's run, earlier runs); "
        "a scenario run here replaces theirs.",
    )
    parser.add_argument("--result", default="fault_suite", help="Name of the result file in bench/results.")
    parser.add_argument("--keep", action="store_true", help="Leave the sandbox running.")
    args = parser.parse_args(argv)
    asyncio.run(main_task(args))
    return 0


async def main_task(args: argparse.Namespace) -> None:
    """``run`` cancelled on SIGTERM or SIGINT, so the fault in progress is undone on the way out."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    await run(args)


if __name__ == "__main__":
    sys.exit(main())
