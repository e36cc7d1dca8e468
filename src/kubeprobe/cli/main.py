"""The `kubeprobe` command: entry point and the error boundary that turns errors into messages."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

from kubeprobe import __version__
from kubeprobe.cli.alerting import incidents_app, silence_app
from kubeprobe.cli.catalog import bind, case_app, cluster_app, group_app, suite_app, template_app
from kubeprobe.cli.center_client import CenterClientError
from kubeprobe.cli.chatops import chatops_app
from kubeprobe.cli.demo import demo
from kubeprobe.cli.execute import gate, run
from kubeprobe.cli.image import image_app
from kubeprobe.cli.inspect import inspect_command
from kubeprobe.cli.operator import operator_app
from kubeprobe.cli.rca import rca_app
from kubeprobe.cli.remedy import remedy_app
from kubeprobe.cli.runs import runs_app
from kubeprobe.cli.sandbox import sandbox_app
from kubeprobe.cli.server import server
from kubeprobe.cli.tokens import token_app
from kubeprobe.kube.errors import KubeError
from kubeprobe.sandbox.errors import SandboxError

app = typer.Typer(
    name="kubeprobe",
    help=(
        "KubeProbe finds problems in Kubernetes clusters before their users do: black-box probes "
        "and inspections run against many clusters from a central control plane."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(image_app, name="image")
app.add_typer(operator_app, name="operator")
app.add_typer(rca_app, name="rca")
app.add_typer(remedy_app, name="remedy")
app.command()(demo)
app.command()(run)
app.command()(gate)
app.command()(server)
app.add_typer(cluster_app, name="cluster")
app.add_typer(group_app, name="group")
app.add_typer(template_app, name="template")
app.add_typer(case_app, name="case")
app.add_typer(suite_app, name="suite")
app.command()(bind)
app.add_typer(runs_app, name="runs")
app.add_typer(token_app, name="token")
app.command("inspect")(inspect_command)
app.add_typer(incidents_app, name="incidents")
app.add_typer(silence_app, name="silence")
app.add_typer(chatops_app, name="chatops")
err = Console(stderr=True, soft_wrap=True)


@app.command()
def version() -> None:
    """Print KubeProbe's version."""
    typer.echo(__version__)


def main() -> None:
    """Run the CLI; known errors print a message and exit 1 instead of a traceback."""
    try:
        app()
    except (SandboxError, KubeError, CenterClientError) as exc:
        # Error text carries untrusted words (a component's log line, a cluster's message): never markup.
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(1)
    except OSError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        sys.exit(130)


if __name__ == "__main__":
    main()
