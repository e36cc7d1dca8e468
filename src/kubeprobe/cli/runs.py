"""`kubeprobe runs ...` (list, show) and `kubeprobe token ...` (create, list, revoke)."""

from __future__ import annotations

from typing import Annotated

import typer

from kubeprobe.cli.center_client import Output, OutputOpt, all_pages, call, out, show

runs_app = typer.Typer(help="Runs: every execution of a case on a cluster.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (roles admin, operator, viewer).", no_args_is_help=True)

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


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="admin, operator or viewer.")],
    name: Annotated[str | None, typer.Option(help="Token name (default: ROLE-N).")] = None,
    expires_in_days: Annotated[float | None, typer.Option(help="Expiry; default never.")] = None,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Make an API token; its secret is printed once (only its hash is stored)."""
    if name is None:
        taken = {t["name"] for t in all_pages("/api/v1/tokens", {"limit": 1000})}
        name = next(f"{role}-{i}" for i in range(1, 10_000) if f"{role}-{i}" not in taken)
    created = call(
        "POST", "/api/v1/tokens", body={"name": name, "role": role, "expires_in_days": expires_in_days}
    )
    if output is Output.JSON:
        show(created, output, ())
        return
    out.print(f"token {created['name']} ({created['role']}): shown once, keep it safe", highlight=False)
    typer.echo(created["token"])


@token_app.command("list")
def token_list(output: OutputOpt = Output.TABLE) -> None:
    show(
        all_pages("/api/v1/tokens", {"limit": 1000}),
        output,
        ("name", "role", "created", "expires", "revoked"),
    )


@token_app.command("revoke")
def token_revoke(name: str) -> None:
    call("DELETE", f"/api/v1/tokens/{name}")
    out.print(f"revoked token {name}")
