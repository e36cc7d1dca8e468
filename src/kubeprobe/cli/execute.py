"""`kubeprobe run` and `kubeprobe gate`: start runs by hand and gate releases from a pipeline."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from kubeprobe.cli.center_client import CenterClientError, call

out = Console()
err = Console(stderr=True, soft_wrap=True)
TERMINAL = {"succeeded", "failed", "timed_out", "error", "cancelled"}
EXIT = {"succeeded": 0, "failed": 1, "timed_out": 1, "error": 2, "cancelled": 2}


def _poll(path: str, done: Any, timeout: float, label: str) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with err.status(label) as status:
        while True:
            obj: dict[str, Any] = call("GET", path)
            status.update(f"{label}: {obj.get('state')}")
            if done(obj):
                return obj
            if time.monotonic() > deadline:
                raise CenterClientError(f"{label}: still {obj.get('state')} after {timeout:.0f}s")
            time.sleep(0.5)


def _show_run(run: dict[str, Any]) -> None:
    colour = "green" if run["state"] == "succeeded" else "red"
    out.print(f"run [bold]{run['id']}[/] {run['case']} on {run['cluster']}: [{colour}]{run['state']}[/]")
    if run.get("steps"):
        table = Table("step", "ok", "ms", "error")
        for s in run["steps"]:
            table.add_row(
                s["name"], "yes" if s["ok"] else "[red]no[/]", f"{s['duration_ms']:.0f}", s.get("error") or ""
            )
        out.print(table)
    for message in run.get("messages") or []:
        out.print(f"  {message}", highlight=False)


def run(
    case: Annotated[str, typer.Argument(help="The case to run.")],
    cluster: Annotated[str, typer.Option("--cluster", "-c", help="The registered cluster to run it on.")],
    wait: Annotated[
        bool, typer.Option("--wait", "-w", help="Wait, show progress, print the result.")
    ] = False,
    timeout: Annotated[float, typer.Option(help="How long --wait waits (seconds).")] = 600,
) -> None:
    """Start one run of CASE on a cluster; prints the run id at once.

    With --wait, exits 0 when the run succeeded, 1 when it failed or timed out, 2 when it could not run.
    """
    created = call("POST", "/api/v1/runs", body={"case": case, "cluster": cluster})
    out.print(created["id"])
    if not wait:
        return
    result = _poll(
        f"/api/v1/runs/{created['id']}", lambda r: r["state"] in TERMINAL, timeout, f"run {created['id']}"
    )
    _show_run(result)
    raise typer.Exit(EXIT[result["state"]])


def gate(
    cluster: Annotated[str, typer.Option("--cluster", "-c", help="The cluster the release goes to.")],
    change: Annotated[str, typer.Option("--change", help="Id of the release or change being gated.")],
    wait: Annotated[bool, typer.Option("--wait", "-w", help="Wait for pass or block.")] = False,
    timeout: Annotated[float, typer.Option(help="How long --wait waits (seconds).")] = 1800,
) -> None:
    """Release gate: run every case bound to the cluster; with --wait exit 0 on pass, 1 on block."""
    opened = call("POST", "/api/v1/gates", body={"cluster": cluster, "change_id": change})
    out.print(f"gate {opened['gate']} on {cluster}: {len(opened['runs'])} runs")
    if not wait:
        return
    result = _poll(
        f"/api/v1/gates/{cluster}/{change}", lambda g: g["state"] != "pending", timeout, f"gate {change}"
    )
    colour = "green" if result["state"] == "pass" else "red"
    out.print(f"gate {change}: [bold {colour}]{result['state']}[/]")
    for failing in result["failing"]:
        out.print(
            f"  {failing['case']} {failing['state']}: {'; '.join(failing['messages'])}", highlight=False
        )
    raise typer.Exit(0 if result["state"] == "pass" else 1)
