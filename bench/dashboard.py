"""Dashboard at fleet scale: the fleet page with CLUSTERS clusters x CASES cases in a real browser.

Seeds an empty store directly (clusters, cases, one case_status row per cluster x case with a random
state), starts `kubeprobe server` on it (the center with its dashboard), then:

- the fleet page in headless Chromium (Debian's package, driven by Playwright), REPS loads, each in a
  fresh browser context (cold cache, token in sessionStorage): navigation start -> matrix drawn,
  read in the page from the `fleet-rendered` performance mark: p50/p95 in ms;
- the floor: the same browser loading the dashboard's login page (no data) the same way;
- GET /api/v1/fleet over HTTP, REQUESTS times: wall p50/p95, the server's own query time (its
  Server-Timing header), the server's CPU ms per request, and the response size.

The machine is shared and noisy, so the result also holds ratios (page load / login-page floor,
page load / API time) and the 1-minute load average.

Run: `.venv/bin/python -m bench.dashboard [--clusters 1000] [--cases 50] [--reps 10]
[--database-url postgresql+asyncpg://...]`; writes bench/results/dashboard.json (SQLite) or
dashboard_postgresql.json (a PostgreSQL URL: an empty database).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import select

from bench.common import write_result
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.tables import Case, CaseStatus, CaseTemplate, Cluster, table_of

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "kp_bench-dashboard-admin"
SCREENSHOT = ROOT / "test-artifacts" / "screenshots" / "bench-fleet-1000x50.png"
STATES = ["succeeded"] * 90 + ["failed"] * 5 + ["timed_out"] * 2 + ["error"] * 2 + [None]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


async def seed(url: str, clusters: int, cases: int) -> float:
    start = time.perf_counter()
    store = Store.connect(url)
    await store.migrate()
    now = dt.datetime.now(dt.UTC)
    rng = random.Random(9)
    async with store.transaction() as s:
        await s.execute(
            table_of(CaseTemplate).insert(),
            [{"name": "bench-probe", "kind": "probe", "entry_point": "bench:run", "image": None,
              "command": [], "params_schema": {}, "timeout_seconds": 60.0, "description": "",
              "builtin": False, "created": now}],
        )  # fmt: skip
        template_id = (await s.execute(select(CaseTemplate.id))).scalar_one()
        await s.execute(
            table_of(Case).insert(),
            [{"name": f"case-{j:03d}", "template_id": template_id, "params": {}, "description": "",
              "created": now} for j in range(cases)],
        )  # fmt: skip
        regions = ["eu", "us", "ap"]
        await s.execute(
            table_of(Cluster).insert(),
            [{"name": f"cluster-{i:04d}", "labels": {"env": "prod" if i % 3 else "dev",
              "region": regions[i % 3]}, "context": "c", "server": "https://127.0.0.1:1",
              "credentials": b"-", "state": "ready", "state_message": "", "version": "", "created": now,
              "updated": now} for i in range(clusters)],
        )  # fmt: skip
        # ids from the database (sequences stay right on PostgreSQL), in name order
        cluster_ids = list((await s.execute(select(Cluster.id).order_by(Cluster.name))).scalars())
        case_ids = list((await s.execute(select(Case.id).order_by(Case.name))).scalars())
        rows = []
        for i in cluster_ids:
            for j in case_ids:
                state = rng.choice(STATES)
                if state:
                    finished = now - dt.timedelta(seconds=rng.uniform(0, 3600))
                    ms = rng.uniform(50, 5000)
                    row = {"cluster_id": i, "case_id": j, "run_id": uuid.uuid4().hex}
                    rows.append({**row, "state": state, "finished": finished, "duration_ms": ms})
        for k in range(0, len(rows), 5000):
            await s.execute(table_of(CaseStatus).insert(), rows[k : k + 5000])
    await store.close()
    return time.perf_counter() - start


def start_server(url: str, data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KUBEPROBE_DATABASE_URL": url,
        "KUBEPROBE_DATA_DIR": str(data_dir),
        "KUBEPROBE_ADMIN_TOKEN": TOKEN,
        "KUBEPROBE_PORT": str(port),
        "KUBEPROBE_DISPATCH": "false",
    }
    exe = Path(sys.executable).with_name("kubeprobe")
    return subprocess.Popen([str(exe), "server"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    async with httpx.AsyncClient(base_url=base) as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the center did not become ready in 120 s")


async def measure_api(base: str, proc: psutil.Process, requests: int) -> dict[str, float]:
    walls, queries = [], []
    size = 0
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    ) as http:
        await http.get("/api/v1/fleet")  # warm-up
        cpu0 = sum(proc.cpu_times()[:2])
        for _ in range(requests):
            t0 = time.perf_counter()
            resp = await http.get("/api/v1/fleet")
            walls.append((time.perf_counter() - t0) * 1000)
            resp.raise_for_status()
            size = len(resp.content)
            queries.append(float(resp.headers["server-timing"].split("dur=")[1]))
        cpu = sum(proc.cpu_times()[:2]) - cpu0
    return {
        "fleet_api_p50_ms": statistics.median(walls),
        "fleet_api_p95_ms": pct(walls, 95),
        "fleet_query_p50_ms": statistics.median(queries),
        "fleet_api_server_cpu_ms_per_request": cpu * 1000 / requests,
        "fleet_response_kb": size / 1024,
    }


async def measure_browser(base: str, reps: int, chromium: str) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    loads, floors, draws, canvas = [], [], [], []
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
        )
        try:
            for rep in range(reps + 1):  # the first is a warm-up of the browser process
                context = await browser.new_context(viewport={"width": 1400, "height": 900})
                await context.add_init_script(f"sessionStorage.setItem('kubeprobe.token', '{TOKEN}')")
                page = await context.new_page()
                await page.goto(f"{base}/ui/#/fleet")
                await page.wait_for_selector("body[data-fleet-ms]", state="attached", timeout=60_000)
                rendered = await page.evaluate("performance.getEntriesByName('fleet-rendered')[0].startTime")
                draw = float(await page.evaluate("Number(document.body.dataset.fleetMs)"))
                rows = await page.get_attribute("canvas#matrix", "data-rows")
                if rep == reps:  # what a person sees, for the record
                    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                    await page.evaluate("document.getElementById('matrix-wrap').scrollTop = 6000")
                    await page.screenshot(path=str(SCREENSHOT))
                canvas_ms = float(await page.get_attribute("canvas#matrix", "data-draw-ms") or 0)
                await context.close()
                floor_ctx = await browser.new_context()
                floor_page = await floor_ctx.new_page()
                await floor_page.goto(f"{base}/ui/")
                await floor_page.wait_for_selector("#login-form")
                floor = await floor_page.evaluate("performance.now()")
                await floor_ctx.close()
                if rep:
                    loads.append(float(rendered))
                    draws.append(draw)
                    canvas.append(canvas_ms)
                    floors.append(float(floor))
        finally:
            await browser.close()
    return {
        "fleet_page_load_p50_ms": statistics.median(loads),
        "fleet_page_load_p95_ms": pct(loads, 95),
        "fleet_page_load_max_ms": max(loads),
        "fleet_view_fetch_and_draw_p50_ms": statistics.median(draws),
        "fleet_canvas_draw_p50_ms": statistics.median(canvas),
        "login_page_floor_p50_ms": statistics.median(floors),
        "rows_drawn": int(rows or 0),
    }


def find_chromium() -> str:
    """What scripts/browser installs (or finds) and prints."""
    script = str(ROOT / "scripts" / "browser")
    return subprocess.run(["bash", script], check=True, capture_output=True, text=True).stdout.strip()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temp dir")
    args = parser.parse_args()
    chromium = os.environ.get("KUBEPROBE_TEST_CHROMIUM") or find_chromium()
    with tempfile.TemporaryDirectory(prefix="kp-bench-dashboard-") as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/center.db"
        seed_s = await seed(url, args.clusters, args.cases)
        print(f"seeded {args.clusters} x {args.cases} in {seed_s:.1f}s", file=sys.stderr)
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        server = start_server(url, Path(tmp) / "data", port)
        try:
            await wait_ready(base, server)
            proc = psutil.Process(server.pid)
            api = await measure_api(base, proc, args.requests)
            page = await measure_browser(base, args.reps, chromium)
        finally:
            server.terminate()
            server.wait(timeout=30)
    load1 = os.getloadavg()[0]
    results: dict[str, Any] = {
        **page,
        **api,
        "page_load_ratio_to_login_floor": page["fleet_page_load_p50_ms"] / page["login_page_floor_p50_ms"],
        "page_load_ratio_to_api": page["fleet_page_load_p50_ms"] / api["fleet_api_p50_ms"],
        "seed_s": seed_s,
        "load_avg_1m": load1,
        "cpus": os.cpu_count() or 0,
    }
    store = "postgresql" if args.database_url and "postgres" in args.database_url else "sqlite"
    params = {"clusters": args.clusters, "cases": args.cases, "reps": args.reps, "requests": args.requests,
              "store": store, "browser": "Debian chromium (headless) via Playwright"}  # fmt: skip
    targets = {"fleet_page_load_p50_ms": ["<=", 1000], "fleet_page_load_p95_ms": ["<=", 1000]}
    path = write_result("dashboard" if store == "sqlite" else f"dashboard_{store}", params, results, targets)
    for key, value in results.items():
        print(f"{key}: {value:.1f}" if isinstance(value, float) else f"{key}: {value}")
    print(f"wrote {path}")


if __name__ == "__main__":
    asyncio.run(main())
