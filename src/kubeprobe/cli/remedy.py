"""`kubeprobe remedy ...`: propose (plan), list, show, approve, deny, pause, resume, policies."""

from __future__ import annotations

from typing import Annotated

import typer

from kubeprobe.cli.center_client import Output, OutputOpt, call, out, pairs, show

remedy_app = typer.Typer(
    help="Remediations under the defender's risk control: propose, approve or deny, and the kill switch.",
    no_args_is_help=True,
)
COLUMNS = ("id", "cluster", "action", "kind", "namespace", "name", "mode", "state", "approver")


@remedy_app.command("plan")
def remedy_plan(
    action: Annotated[
        str,
        typer.Argument(
            help="pod-delete, node-drain, node-uncordon, restart-node-component, deployment-rollback, "
            "control-plane-restart"
        ),
    ],
    name: Annotated[str, typer.Argument(help="The target object's name.")],
    *,
    cluster: Annotated[str, typer.Option(help="The cluster.")],
    namespace: Annotated[str, typer.Option(help="The target's namespace, for namespaced kinds.")] = "",
    param: Annotated[list[str] | None, typer.Option(help="An action parameter key=value (repeat).")] = None,
    mode: Annotated[
        str, typer.Option(help="shadow (record only), approval (wait for approve) or auto.")
    ] = "approval",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only show what it would change and what the defender says now.")
    ] = False,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Propose a remediation; `approval` (the default) waits for `kubeprobe remedy approve ID`."""
    body = {
        "cluster": cluster,
        "action": action,
        "name": name,
        "namespace": namespace,
        "params": pairs(param, "--param"),
        "mode": mode,
    }
    if dry_run:
        seen = call("POST", "/api/v1/remediations/preview", body=body)
        if output is Output.JSON:
            show(seen, output, ())
            return
        out.print(f"would be allowed now: {'yes' if seen['allowed'] else 'no'}", markup=False)
        for key in ("plan", "problems", "denials"):
            for line in seen[key]:
                out.print(f"{key}: {line}", markup=False)
        return
    show(call("POST", "/api/v1/remediations", body=body), output, COLUMNS)


@remedy_app.command("list")
def remedy_list(
    *,
    state: Annotated[
        str | None, typer.Option(help="Only this state (awaiting-approval, verified ...).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 100,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Remediations, newest first."""
    show(call("GET", "/api/v1/remediations", params={"state": state, "limit": limit}), output, COLUMNS)


@remedy_app.command("policies")
def remedy_policies(output: OutputOpt = Output.TABLE) -> None:
    """The policies in force, in the order they are matched, with their ladders."""
    found = call("GET", "/api/v1/remedy/policies")
    for policy in found:
        policy["steps"] = [
            f"{s['action']}{'→' if s['on_verified'] == 'next' else ''}" for s in policy["ladder"]
        ]
    show(found, output, ("name", "version", "cause", "mode", "clusters", "cases", "steps"))


@remedy_app.command("show")
def remedy_show(rid: Annotated[int, typer.Argument(metavar="ID")], output: OutputOpt = Output.TABLE) -> None:
    """One remediation with its plan and what the defender said."""
    rem = call("GET", f"/api/v1/remediations/{rid}")
    show(rem, output, COLUMNS)
    if output is Output.TABLE:
        for key in ("plan", "problems", "denials"):
            for line in rem["result"].get(key) or []:
                out.print(f"{key}: {line}", markup=False)
        if rem["result"].get("error"):
            out.print(f"error: {rem['result']['error']}", markup=False)


def _decide(rid: int, verb: str, output: Output) -> None:
    answer = call("POST", f"/api/v1/remediations/{rid}/{verb}")
    if not answer["changed"]:
        out.print(f"remediation {rid} is {answer['remediation']['state']}: nothing changed", markup=False)
    show(answer["remediation"], output, COLUMNS)


@remedy_app.command("approve")
def remedy_approve(
    rid: Annotated[int, typer.Argument(metavar="ID")], output: OutputOpt = Output.TABLE
) -> None:
    """Approve a remediation awaiting approval; it runs once (a second approve changes nothing)."""
    _decide(rid, "approve", output)


@remedy_app.command("deny")
def remedy_deny(rid: Annotated[int, typer.Argument(metavar="ID")], output: OutputOpt = Output.TABLE) -> None:
    """Deny a remediation awaiting approval."""
    _decide(rid, "deny", output)


Scope = Annotated[str, typer.Option(help="A cluster, or * for every cluster.")]
ActionScope = Annotated[str, typer.Option(help="An action, or * for every action.")]


@remedy_app.command("pause")
def remedy_pause(
    cluster: Scope = "*",
    action: ActionScope = "*",
    reason: Annotated[str, typer.Option(help="Why, for the audit.")] = "",
) -> None:
    """The kill switch: nothing matching is granted until `kubeprobe remedy resume`."""
    call("POST", "/api/v1/remedy/pause", body={"cluster": cluster, "action": action, "reason": reason})
    out.print(f"remediation paused for cluster {cluster}, action {action}", markup=False)


@remedy_app.command("resume")
def remedy_resume(cluster: Scope = "*", action: ActionScope = "*") -> None:
    """Lift a pause set with the same cluster and action."""
    call("POST", "/api/v1/remedy/resume", body={"cluster": cluster, "action": action})
    out.print(f"remediation resumed for cluster {cluster}, action {action}", markup=False)
