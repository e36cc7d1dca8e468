"""`kubeprobe incidents list|show|ack` and `kubeprobe silence add|list|show|remove`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer

from kubeprobe.cli.center_client import Output, OutputOpt, call, out, seconds, show

incidents_app = typer.Typer(help="Incidents: failures grouped by cause and scope.", no_args_is_help=True)
silence_app = typer.Typer(
    help="Silences (mute notifications) and maintenance windows (also pause runs).", no_args_is_help=True
)

INCIDENT_COLUMNS = ("id", "state", "priority", "scope", "cause", "cluster", "cases", "confidence", "opened")
SILENCE_COLUMNS = (
    *("id", "mode", "active", "matchers", "starts", "ends", "cron", "duration_s", "comment"),
    "error",  # why the center skips it
)


@incidents_app.command("list")
def incidents_list(
    *,
    state: Annotated[
        str | None, typer.Option(help="firing, acknowledged, resolved, or open (default: open).")
    ] = "open",
    all_states: Annotated[bool, typer.Option("--all", help="Every state, resolved too.")] = False,
    cluster: Annotated[str | None, typer.Option(help="Only this cluster.")] = None,
    case: Annotated[str | None, typer.Option(help="Only incidents this case is part of.")] = None,
    cause: Annotated[str | None, typer.Option(help="Only this cause (e.g. etcd.unavailable).")] = None,
    priority: Annotated[str | None, typer.Option(help="Only this priority, P1..P4.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 50,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Incidents, newest first (open ones unless --state or --all says otherwise)."""
    params = {
        "state": None if all_states else state,
        "cluster": cluster,
        "case": case,
        "cause": cause,
        "priority": priority,
        "limit": limit,
    }
    show(call("GET", "/api/v1/incidents", params=params)["items"], output, INCIDENT_COLUMNS)


@incidents_app.command("show")
def incidents_show(
    incident_id: Annotated[int, typer.Argument(metavar="ID")], output: OutputOpt = Output.TABLE
) -> None:
    """One incident: its cases, latest signals and notifications."""
    inc = call("GET", f"/api/v1/incidents/{incident_id}")
    if output is Output.JSON:
        show(inc, output, ())
        return
    out.print(inc["title"], highlight=False)
    show(inc, output, (*INCIDENT_COLUMNS, "acked_by", "resolved_at", "parent_id"))
    if inc["shared"]:
        out.print(f"shared: {inc['shared']}", highlight=False)
    if inc["reason"]:
        out.print(f"reason: {inc['reason']}", highlight=False)
    show(
        inc["members"], output, ("cluster", "case", "step", "failures", "resolved", "run_url"), title="cases"
    )
    if inc["signals"]:
        show(
            inc["signals"],
            output,
            ("at", "outcome", "cluster", "case", "cause", "confidence", "run_id"),
            title="signals",
        )
    if inc["deliveries"]:
        cols = ("receiver", "event", "state", "attempts", "next_attempt", "last_error")
        show(inc["deliveries"], output, cols, title="notifications")


@incidents_app.command("ack")
def incidents_ack(
    incident_id: Annotated[int, typer.Argument(metavar="ID")],
    comment: Annotated[str, typer.Option(help="Why, or who works on it.")] = "",
    output: OutputOpt = Output.TABLE,
) -> None:
    """Acknowledge an incident: reminders stop (a fleet incident's cluster incidents too)."""
    inc = call("POST", f"/api/v1/incidents/{incident_id}/ack", body={"comment": comment})
    if output is Output.JSON:
        show(inc, output, ())
        return
    out.print(f"acknowledged incident {inc['id']} by {inc['acked_by']}", highlight=False)


def _time(text: str | None, what: str) -> str | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{text!r} is not an ISO time like 2026-11-23T02:00:00Z", param_hint=what
        ) from exc
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()


@silence_app.command("add")
def silence_add(
    *,
    match: Annotated[
        list[str],
        typer.Option(
            "--match", "-m", help="LABEL=VALUE, LABEL!=VALUE, LABEL=~REGEX, LABEL!~REGEX; repeat for all."
        ),
    ],
    mode: Annotated[str, typer.Option(help="mute (no notifications) or pause (also no runs).")] = "mute",
    duration: Annotated[
        str | None, typer.Option(help="One-off: from now (or --starts) for this long: 30m, 2h.")
    ] = None,
    starts: Annotated[str | None, typer.Option(help="ISO time it starts (default now).")] = None,
    ends: Annotated[str | None, typer.Option(help="ISO time it ends (instead of --duration).")] = None,
    cron: Annotated[str | None, typer.Option(help="Recurring: cron expression opening each window.")] = None,
    weekly: Annotated[str | None, typer.Option(help="Recurring: days like sat,sun (with --at).")] = None,
    at: Annotated[str | None, typer.Option(help="Time of day HH:MM for --weekly.")] = None,
    window: Annotated[str | None, typer.Option(help="Recurring: length of each window: 2h.")] = None,
    timezone: Annotated[str, typer.Option(help="Time zone of --cron/--weekly.")] = "UTC",
    comment: Annotated[str, typer.Option(help="Why.")] = "",
    output: OutputOpt = Output.TABLE,
) -> None:
    """Add a silence or maintenance window (one-off with --duration/--ends, or --cron/--weekly + --window)."""
    body: dict[str, Any] = {"matchers": match, "mode": mode, "timezone": timezone, "comment": comment}
    body["starts"] = _time(starts, "--starts")
    body["ends"] = _time(ends, "--ends")
    if duration is not None:
        if ends is not None:
            raise typer.BadParameter("give --duration or --ends, not both", param_hint="--duration")
        begin = dt.datetime.fromisoformat(body["starts"]) if body["starts"] else dt.datetime.now(dt.UTC)
        body["ends"] = (begin + dt.timedelta(seconds=seconds(duration, "--duration") or 0)).isoformat()
    if weekly is not None:
        if at is None:
            raise typer.BadParameter("--weekly needs --at HH:MM", param_hint="--at")
        body["weekly"] = {"days": [d for d in weekly.split(",") if d], "at": at}
    body["cron"] = cron
    body["duration_s"] = seconds(window, "--window")
    created = call("POST", "/api/v1/silences", body={k: v for k, v in body.items() if v is not None})
    if output is Output.JSON:
        show(created, output, ())
        return
    out.print(
        f"silence {created['id']} ({created['mode']}) added; active now: {created['active']}", highlight=False
    )


@silence_app.command("list")
def silence_list(
    expired: Annotated[bool, typer.Option(help="Include ended silences.")] = False,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Silences and maintenance windows that are not over."""
    show(call("GET", "/api/v1/silences", params={"expired": expired}), output, SILENCE_COLUMNS)


@silence_app.command("show")
def silence_show(
    silence_id: Annotated[int, typer.Argument(metavar="ID")], output: OutputOpt = Output.TABLE
) -> None:
    """One silence; ERROR says why the center skips it (its matchers or schedule no longer validate)."""
    show(call("GET", f"/api/v1/silences/{silence_id}"), output, (*SILENCE_COLUMNS, "timezone", "created_by"))


@silence_app.command("remove")
def silence_remove(silence_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Remove a silence at once."""
    call("DELETE", f"/api/v1/silences/{silence_id}")
    out.print(f"removed silence {silence_id}")
