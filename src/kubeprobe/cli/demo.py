"""`kubeprobe demo`: sandbox clusters, the center on its embedded SQLite store, built-in cases
bound to the clusters, runs on a schedule and by a change event, results as they come in; then a
fault healed by an approved remediation, narrated (`kubeprobe.cli.demo_heal`).

Where this machine can run real nodes (``kubeprobe sandbox preflight``), the first cluster gets one
beside its kwok nodes and node-probe is bound too: its pod there runs a real container. Elsewhere
the demo runs on kwok nodes alone and says why, in the preflight's words."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import typer
import uvicorn
from rich.console import Console
from rich.live import Live
from rich.table import Table

from kubeprobe.center.settings import CenterSettings, default_data_dir
from kubeprobe.cli.serving import ServerLimits, server_config
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.components import free_port, port_free

console = Console()
TOKEN = "kp_demo-admin-token"
COLOURS = {"succeeded": "green", "failed": "red", "error": "yellow", "timed_out": "red", "cancelled": "dim"}


async def _ok(resp: httpx.Response, *allowed: int) -> Any:
    if resp.status_code >= 300 and resp.status_code not in allowed:
        raise typer.BadParameter(
            f"{resp.request.method} {resp.request.url.path}: {resp.status_code} {resp.text}"
        )
    return resp.json() if resp.content else None


def real_node_plan(wanted: bool) -> tuple[int, str]:
    """How many real nodes the first cluster gets (0 or 1), and the sentence that says why."""
    if not wanted:
        return 0, "kwok nodes only: --no-real-nodes"
    from kubeprobe.sandbox import preflight

    problems = preflight.missing()
    if problems:
        return 0, "kwok nodes only, this machine cannot run real nodes: " + "; ".join(problems)
    return 1, "one real node (kubelet, containerd, runc, kube-proxy, CoreDNS) in the first cluster"


def _real_node_line(box: Sandbox) -> str:
    if box.real_nodes.get("count"):
        return (
            f"{box.name} has a real node: node-probe's pod on real-node-0 runs a real container "
            f"(pods reach this machine at {box.real_nodes['host_ip']})"
        )
    return (
        f"{box.name} was already running without a real node; for one: "
        f"kubeprobe sandbox down --name {box.name}, then the demo again"
    )


async def _register(
    http: httpx.AsyncClient, boxes: list[Sandbox], interval: float, extra: tuple[str, ...] = ()
) -> None:
    for box in boxes:
        body = {"name": box.name, "kubeconfig": box.kubeconfig.read_text(), "labels": {"env": "demo"}}
        if (await http.post("/api/v1/clusters", json=body)).status_code == 409:
            await _ok(
                await http.patch(f"/api/v1/clusters/{box.name}", json={"kubeconfig": body["kubeconfig"]})
            )
    await _ok(await http.post("/api/v1/groups", json={"name": "demo", "selector": {"env": "demo"}}), 409)
    cases = [c["name"] for c in (await _ok(await http.get("/api/v1/cases", params={"limit": 500})))["items"]]
    wanted = ("pod-lifecycle", "apiserver-probe", "deployment-lifecycle", *extra)
    probes = [c for c in wanted if c in cases] or cases[:1]
    for case in probes:
        await _ok(
            await http.post(
                "/api/v1/bindings",
                json={
                    "name": f"demo-{case}",
                    "case": case,
                    "group": "demo",
                    "interval_seconds": interval,
                    "jitter_seconds": interval / 4,
                    "events": ["component.released"],
                },
            ),
            409,
        )


async def _dashboard_tokens(http: httpx.AsyncClient, url: str) -> None:
    """Print the dashboard's address with a viewer and an operator token to log in with."""
    tokens = {}
    for role in ("viewer", "operator"):
        body = {"name": f"demo-{role}-{uuid.uuid4().hex[:6]}", "role": role, "expires_in_days": 1}
        tokens[role] = (await _ok(await http.post("/api/v1/tokens", json=body)))["token"]
    console.print(
        f"dashboard at {url}/ui/ — log in with the viewer token {tokens['viewer']}\n"
        f"  or the operator token {tokens['operator']} (may press 'Run now')"
    )


def _table(runs: list[dict[str, Any]]) -> Table:
    table = Table(title="latest runs (newest first)")
    for col in ("created", "cluster", "case", "trigger", "state", "ms", "message"):
        table.add_column(col, overflow="fold")
    for run in runs[:15]:
        colour = COLOURS.get(run["state"], "white")
        ms = f"{run['duration_ms']:.0f}" if run.get("duration_ms") else ""
        message = (run.get("messages") or [""])[0][:70]
        table.add_row(
            run["created"][11:19],
            run["cluster"],
            run["case"],
            run["trigger"],
            f"[{colour}]{run['state']}[/]",
            ms,
            message,
        )
    return table


async def _show(
    http: httpx.AsyncClient, duration: float, event_after: float, cluster: str
) -> list[dict[str, Any]]:
    start = time.monotonic()
    sent = False
    runs: list[dict[str, Any]] = []
    with Live(console=console, refresh_per_second=2) as live:
        while duration <= 0 or time.monotonic() - start < duration:
            if not sent and time.monotonic() - start > event_after:
                event = {
                    "specversion": "1.0",
                    "id": uuid.uuid4().hex,
                    "source": "kubeprobe-demo",
                    "type": "component.released",
                    "subject": f"cluster/{cluster}",
                    "data": {"component": "coredns"},
                }
                got = await _ok(await http.post("/api/v1/events", json=event))
                console.print(
                    f"› change event component.released → {cluster}: {len(got['runs'])} runs started"
                )
                sent = True
            runs = (await _ok(await http.get("/api/v1/runs", params={"limit": 50})))["items"]
            live.update(_table(runs))
            await asyncio.sleep(1)
    return runs


def demo(  # noqa: PLR0917 (typer options)
    clusters: int = typer.Option(2, "--clusters", min=1, max=5, help="Sandbox clusters to start."),
    nodes: int = typer.Option(3, "--nodes", min=1, help="kwok nodes per sandbox."),
    port: int = typer.Option(8080, "--port", help="Port of the center (a free one if taken)."),
    duration: float = typer.Option(90, "--duration", help="Seconds to show results (0: until Ctrl-C)."),
    interval: float = typer.Option(20, "--interval", min=10, help="Seconds between scheduled runs."),
    heal: bool = typer.Option(
        True, "--heal/--no-heal", help="Then a fault, healed by an approved remediation."
    ),
    real_nodes: bool = typer.Option(
        True,
        "--real-nodes/--no-real-nodes",
        help="One real node in the first cluster where this machine can run it (`sandbox preflight`).",
    ),
    prefix: str = typer.Option(
        "demo", "--prefix", help="Sandbox names PREFIX-1.. and the data folder's name."
    ),
) -> None:
    """The product on one machine: sandbox clusters, the center, built-in probes on a schedule and by event.

    The first cluster gets one real node where this machine can run it (`kubeprobe sandbox
    preflight`), and the demo says so; elsewhere it says why not and uses kwok nodes alone.

    Idempotent: a second run reuses the built binaries, running sandboxes and the demo's database.
    """
    from kubeprobe.cli.sandbox import _say, build_binaries, build_node_binaries

    console.rule("[bold]1. sandbox clusters")
    real, why = real_node_plan(real_nodes)
    console.print(why, markup=False)
    bin_dir = build_binaries()
    node_bin = build_node_binaries() if real else None
    boxes = [Sandbox(f"{prefix}-{i + 1}") for i in range(clusters)]
    for i, box in enumerate(boxes):
        first = real if i == 0 else 0
        asyncio.run(box.up(bin_dir, node_count=nodes, real_nodes=first, node_bin_dir=node_bin, report=_say))
    if real:
        console.print(_real_node_line(boxes[0]), markup=False)
    console.rule("[bold]2. the center (embedded SQLite)")
    port = port if port_free(port) else free_port()
    data_dir = Path(default_data_dir()) / prefix
    url = f"http://127.0.0.1:{port}"
    healing: dict[str, Any] = {}
    if heal:  # the self-heal verdict goes to the demo's policy (kubeprobe/cli/demo_heal.py)
        from kubeprobe.cli.demo_heal import write_policy

        healing = {"analysis": {"self_healing": True}, "remedy": {"policies_file": write_policy(data_dir)}}
    settings = CenterSettings(
        data_dir=data_dir, admin_token=TOKEN, port=port, public_url=url, runner_mode="local", **healing
    )
    extra = ("node-probe",) if boxes[0].real_nodes.get("count") else ()
    asyncio.run(_serve(settings, boxes, url, duration, interval, heal, extra))


async def _serve(  # noqa: PLR0917 (the demo's pieces)
    settings: CenterSettings,
    boxes: list[Sandbox],
    url: str,
    duration: float,
    interval: float,
    heal: bool,
    extra: tuple[str, ...],
) -> None:
    from kubeprobe.web import create_web_app  # the web stack loads slowly: only for the demo

    app = create_web_app(settings, dispatch=True)
    server = uvicorn.Server(
        server_config(app, "127.0.0.1", settings.port, ServerLimits(), log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                await serving
                raise typer.Exit(1)
            await asyncio.sleep(0.05)
        console.print(f"center at {url}  (data: {settings.data_dir}, token: {TOKEN})")
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        ) as http:
            console.rule("[bold]3. clusters, cases and bindings")
            await _register(http, boxes, interval, extra)
            await _dashboard_tokens(http, url)
            console.print(
                f"registered {', '.join(b.name for b in boxes)}; built-in probes bound to group demo "
                f"every {interval:g}s and on event component.released"
                + (f" (with {', '.join(extra)}: the real node)" if extra else "")
            )
            console.rule("[bold]4. results as they come in")
            runs = await _show(http, duration, min(15.0, duration / 3 if duration else 15.0), boxes[0].name)
            health = await _ok(await http.get(f"/api/v1/clusters/{boxes[0].name}/health"))
            if heal:
                from kubeprobe.cli.demo_heal import heal_act

                console.rule("[bold]5. a fault, healed")
                try:
                    await heal_act(http, boxes[0], console)
                except (httpx.HTTPError, TimeoutError) as exc:
                    console.print(f"the healing act stopped: {exc}", markup=False)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving
    console.rule("[bold]summary")
    states: dict[str, int] = {}
    for run in runs:
        states[run["state"]] = states.get(run["state"], 0) + 1
    console.print(f"last {len(runs)} runs: {states}")
    table = Table(title=f"health of {boxes[0].name} (last {health['window_hours']}h)")
    for col in ("case", "last state", "runs", "failures", "errors", "success", "avg ms"):
        table.add_column(col)
    for case in health["cases"]:
        ratio = case.get("success_ratio")
        table.add_row(
            case["case"],
            str(case["last_state"]),
            str(case["runs"]),
            str(case["failures"]),
            str(case["errors"]),
            "-" if ratio is None else f"{ratio:.0%}",
            f"{case['latency_avg_ms']:.0f}" if case.get("latency_avg_ms") else "-",
        )
    console.print(table)
    console.print(
        "next:\n"
        f"  KUBEPROBE_URL={url} KUBEPROBE_TOKEN={TOKEN} kubeprobe runs list  (while a center runs)\n"
        f"  kubeprobe sandbox fault pause kube-scheduler --name {boxes[0].name}\n"
        f"  kubeprobe sandbox down --name {boxes[0].name}"
    )
