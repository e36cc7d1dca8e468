"""`kubeprobe runs ...` (list, show)."""

from __future__ import annotations

from typing import Annotated

import typer

from kubeprobe.cli.center_client import Output, OutputOpt, call, out, show

runs_app = typer.Typer(help="Runs: every execution of a case on a cluster.", no_args_is_help=True)

RUN_COLUMNS = ("id", "case", "cluster", "state", "trigger", "created", "duration_ms")


@runs_app.command("list")
def runs_list(
    *,
    cluster: Annotated[str | None, typer.Option(help="Only this cluster.")] = None,
    group: Annotated[str | None, typer.Option(help="Only clusters of this group.")] = None,
    case: Annotated[str | None, typer.Option(help="Only this case.")] = None,
    state: Annotated[str | None, typer.Option(help="Only this state (failed, error, ...).")] = None,
    since: Annotated[str | None, typer.Option(help="Created at or after (ISO time).")] = None,
    until: Annotated[str | None, typer.Option(help="Created before (ISO time).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 50,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Runs, newest first."""
    params = {
        "cluster": cluster,
        "group": group,
        "case": case,
        "state": state,
        "since": since,
        "until": until,
        "limit": limit,
    }
    show(call("GET", "/api/v1/runs", params=params)["items"], output, RUN_COLUMNS)


@runs_app.command("show")
def runs_show(run_id: Annotated[str, typer.Argument(metavar="ID")], output: OutputOpt = Output.TABLE) -> None:
    """One run with its messages, steps and findings."""
    run = call("GET", f"/api/v1/runs/{run_id}")
    if output is Output.JSON:
        show(run, output, ())
        return
    show(run, output, (*RUN_COLUMNS, "deadline", "finished"))
    for message in run["messages"]:
        out.print(f"  {message}", highlight=False)
    if run["steps"]:
        show(run["steps"], output, ("name", "ok", "duration_ms", "error"), title="steps")
    if run["findings"]:
        show(run["findings"], output, ("severity", "check_id", "object", "message"), title="findings")
