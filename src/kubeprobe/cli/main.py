"""The `kubeprobe` command: entry point and the error boundary that turns errors into messages."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from kubeprobe import __version__
from kubeprobe.kube.errors import KubeError
from kubeprobe.sandbox.errors import SandboxError

HELP = (
    "KubeProbe finds problems in Kubernetes clusters before their users do: black-box probes "
    "and inspections run against many clusters from a central control plane."
)
# Every subcommand, in --help order: name -> (module, attribute). A Typer is a group of commands, a
# function is one command. Only the module of the command being run is imported (`kubeprobe inspect`
# does not load the center's database stack; `--help` loads them all).
COMMANDS: dict[str, tuple[str, str]] = {
    "sandbox": ("kubeprobe.cli.sandbox", "sandbox_app"),
    "image": ("kubeprobe.cli.image", "image_app"),
    "operator": ("kubeprobe.cli.operator", "operator_app"),
    "rca": ("kubeprobe.cli.rca", "rca_app"),
    "remedy": ("kubeprobe.cli.remedy", "remedy_app"),
    "demo": ("kubeprobe.cli.demo", "demo"),
    "run": ("kubeprobe.cli.execute", "run"),
    "gate": ("kubeprobe.cli.execute", "gate"),
    "server": ("kubeprobe.cli.server", "server"),
    "cluster": ("kubeprobe.cli.catalog", "cluster_app"),
    "group": ("kubeprobe.cli.catalog", "group_app"),
    "template": ("kubeprobe.cli.catalog", "template_app"),
    "case": ("kubeprobe.cli.catalog", "case_app"),
    "suite": ("kubeprobe.cli.catalog", "suite_app"),
    "bind": ("kubeprobe.cli.catalog", "bind"),
    "binding": ("kubeprobe.cli.catalog", "binding_app"),
    "runs": ("kubeprobe.cli.runs", "runs_app"),
    "token": ("kubeprobe.cli.tokens", "token_app"),
    "inspect": ("kubeprobe.cli.inspect", "inspect_command"),
    "incidents": ("kubeprobe.cli.alerting", "incidents_app"),
    "silence": ("kubeprobe.cli.alerting", "silence_app"),
    "chatops": ("kubeprobe.cli.chatops", "chatops_app"),
}


def version() -> None:
    """Print KubeProbe's version."""
    typer.echo(__version__)


def build(names: Iterable[str] = COMMANDS) -> typer.Typer:
    """The `kubeprobe` app holding the named subcommands (all of them by default) and `version`."""
    app = typer.Typer(
        name="kubeprobe",
        help=HELP,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    wanted = set(names)
    for name, (module, attribute) in COMMANDS.items():
        if name not in wanted:
            continue
        target = getattr(importlib.import_module(module), attribute)
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)
    app.command()(version)  # always there: an app of one command would run it without its name
    return app


def __getattr__(name: str) -> Any:
    """``kubeprobe.cli.main.app``: the whole app (for tests and documentation tools)."""
    if name == "app":
        return build()
    raise AttributeError(name)


def _known_error(exc: BaseException) -> bool:
    if isinstance(exc, (SandboxError, KubeError, OSError)):
        return True
    client = sys.modules.get("kubeprobe.cli.center_client")  # never imported: it raised nothing
    return client is not None and isinstance(exc, client.CenterClientError)


err = Console(stderr=True, soft_wrap=True)


def main() -> None:
    """Run the CLI; known errors print a message and exit 1 instead of a traceback."""
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    app = build([command] if command in COMMANDS else COMMANDS)
    try:
        app()
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        sys.exit(130)
    except Exception as exc:
        if not _known_error(exc):
            raise
        # Error text carries untrusted words (a component's log line, a cluster's message): never markup.
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
