"""`kubeprobe operator ...`: run the resident ProbeOperator, or install its manifests into a cluster."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

from kubeprobe.kube.client import KubeClient
from kubeprobe.operator.connection import resolve_connection
from kubeprobe.operator.install import MANIFESTS, install
from kubeprobe.operator.settings import OperatorSettings

operator_app = typer.Typer(
    help="The resident operator: high-frequency probes from ProbeConfig objects, reported to the center.",
    no_args_is_help=True,
)
KubeconfigOpt = Annotated[
    str | None, typer.Option("--kubeconfig", help="Kubeconfig to use; default $KUBECONFIG, else in-cluster.")
]
ContextOpt = Annotated[str | None, typer.Option("--context", help="Kubeconfig context.")]


@operator_app.command("run")
def run(  # noqa: PLR0917 (typer options)
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    cluster: Annotated[str | None, typer.Option(help="This cluster's name at the center.")] = None,
    center_url: Annotated[str | None, typer.Option(help="The center's base URL.")] = None,
    center_token: Annotated[str | None, typer.Option(help="API token (role operator) at the center.")] = None,
    buffer: Annotated[Path | None, typer.Option(help="The on-disk report outbox (SQLite file).")] = None,
    namespace: Annotated[
        list[str] | None, typer.Option(help="Watch only this namespace (repeatable).")
    ] = None,
    standalone: Annotated[bool, typer.Option(help="No peering: a single replica.")] = False,
    identity: Annotated[str | None, typer.Option(help="This replica's name (default: hostname).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Watch ProbeConfigs and probe them until interrupted (settings also from KUBEPROBE_OPERATOR_*)."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(name)s %(message)s"
    )
    for noisy in ("httpx", "httpcore"):  # one line per request otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    given: dict[str, object] = {
        "cluster": cluster,
        "center_url": center_url,
        "center_token": center_token,
        "buffer_path": buffer,
        "namespaces": namespace or None,
        "standalone": standalone or None,
        "identity": identity,
    }
    settings = OperatorSettings.model_validate({k: v for k, v in given.items() if v is not None})
    conn = resolve_connection(kubeconfig, context)
    from kubeprobe.operator.handlers import run_operator  # kopf loads slowly: only here

    asyncio.run(run_operator(conn, settings))


@operator_app.command("install")
def install_command(
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    deployment: Annotated[
        bool, typer.Option(help="Also apply the Deployment (in-cluster operator).")
    ] = False,
) -> None:
    """Apply the ProbeConfig CRD, kopf's peering CRDs and the RBAC (and the Deployment)."""
    names = MANIFESTS if deployment else MANIFESTS[:-1]

    async def go() -> None:
        async with KubeClient(resolve_connection(kubeconfig, context)) as kube:
            await install(kube, names)

    asyncio.run(go())
    typer.echo(f"applied: {', '.join(names)}")
