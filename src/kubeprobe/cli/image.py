"""`kubeprobe image ...`: the KubeProbe image as an OCI archive, built without Docker."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from kubeprobe.sandbox.image import ImageBuilder, default_tag

image_app = typer.Typer(
    help="The KubeProbe container image, built without Docker (the Dockerfile stays for Docker users).",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True, soft_wrap=True)


@image_app.command()
def build(
    tag: Annotated[
        str | None, typer.Option(help="Image name (default: kubeprobe/kubeprobe:<version>).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Archive to write (default: in the cache).")
    ] = None,
    project: Annotated[
        Path | None, typer.Option(help="KubeProbe source tree (default: the one installed from).")
    ] = None,
) -> None:
    """Build the image as an OCI archive from Debian packages (debootstrap) and KubeProbe's wheel.

    Needs root and debootstrap. The Debian base is cached, so a rebuild redoes only the app layer.
    Load it into a sandbox's real nodes with `kubeprobe sandbox load-image ARCHIVE --name N`.
    Prints the archive's path.
    """

    def report(message: str) -> None:
        err.print(f"[dim]›[/] {message}", highlight=False)

    path = ImageBuilder(report=report).build(tag or default_tag(), output, project)
    out.print(str(path))
