"""`kubeprobe token ...` (create, list, revoke): API tokens of the center."""

from __future__ import annotations

from typing import Annotated

import typer

from kubeprobe.cli.center_client import Output, OutputOpt, all_pages, call, out, show

token_app = typer.Typer(help="API tokens (roles admin, operator, viewer).", no_args_is_help=True)


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
