"""`kubeprobe chatops ...`: the chat bot's understanding from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kubeprobe.cli.center_client import all_pages

if TYPE_CHECKING:
    from kubeprobe.chatops.config import ChatOpsSettings

chatops_app = typer.Typer(
    help="ChatOps: operate KubeProbe from chat, in plain language.", no_args_is_help=True
)


@chatops_app.command()
def parse(
    file: Annotated[Path | None, typer.Argument(help="JSON lines file (default: standard input).")] = None,
    catalog: Annotated[
        Path | None, typer.Option(help='Names to resolve against: JSON {"clusters": [...], "cases": [...]}.')
    ] = None,
    center: Annotated[
        bool,
        typer.Option(
            "--center", help="Resolve names against the center's clusters and cases (KUBEPROBE_URL)."
        ),
    ] = False,
) -> None:
    """Read `{"text": ...}` per JSON line; print `{"intent", "slots", "confidence", ...}` per line.

    Also printed: `exact` (an exact /kp command), `mutating` (from the intent's definition),
    `command` (the exact command a confirmation echoes) and `did_you_mean` for near-miss names.
    Without --catalog or --center no names are known, so cluster and case slots stay empty.
    A line that is not valid prints `{"error": ...}` naming the line.
    """
    # Imported here: scikit-learn takes seconds to load, and every other command would pay for it.
    from kubeprobe.chatops.catalog import Catalog
    from kubeprobe.chatops.understanding import Understanding

    names = Catalog()
    if catalog is not None:
        try:
            names = Catalog.from_file(catalog)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--catalog") from exc
    if center:
        clusters = [c["name"] for c in all_pages("/api/v1/clusters")]
        cases = [c["name"] for c in all_pages("/api/v1/cases")]
        names = Catalog.of(set(clusters) | names.clusters, set(cases) | names.cases)
    understanding = Understanding(names)
    stream = file.open(encoding="utf-8") if file else sys.stdin
    with stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                text = obj["text"]
                if not isinstance(text, str):
                    raise TypeError("text is not a string")
            except (ValueError, KeyError, TypeError) as exc:
                typer.echo(json.dumps({"error": f"line {number}: want {{'text': ...}}: {exc}"}))
                continue
            typer.echo(json.dumps(understanding.parse(text).as_json(), ensure_ascii=False))


def load_settings(config: Path | None) -> ChatOpsSettings:
    """KUBEPROBE_CHATOPS_* variables, overridden by a YAML or JSON file's keys."""
    import yaml

    from kubeprobe.chatops.config import ChatOpsSettings

    data: dict[str, object] = {}
    if config is not None:
        try:
            data = yaml.safe_load(config.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise typer.BadParameter(f"cannot read {config}: {exc}", param_hint="--config") from exc
    try:
        return ChatOpsSettings.model_validate(data)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--config") from exc


@chatops_app.command()
def serve(
    platform: Annotated[
        str,
        typer.Argument(
            help="matrix; slack, mattermost or dingtalk (HTTP callbacks on --host/--port); "
            "slack-socket (Socket Mode); dingtalk-stream (Stream mode)."
        ),
    ] = "matrix",
    config: Annotated[
        Path | None,
        typer.Option(
            help="YAML with center_url, dashboard_url, users, channels, token_files, rate_per_minute."
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="HTTP callbacks: address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP callbacks: port.")] = 8090,
) -> None:
    """Run the chat bot: answers commands and plain words, posts incidents and edits them as they change.

    Center tokens: KUBEPROBE_CHATOPS_TOKEN_VIEWER / _OPERATOR, or token_files in the config.
    Platform credentials: KUBEPROBE_CHATOPS_MATRIX_* (HOMESERVER, USER, PASSWORD or PASSWORD_FILE or
    ACCESS_TOKEN), KUBEPROBE_CHATOPS_SLACK_* (BOT_TOKEN, SIGNING_SECRET, APP_TOKEN),
    KUBEPROBE_CHATOPS_MATTERMOST_* (URL, BOT_TOKEN, COMMAND_TOKEN, ACTION_SECRET, CALLBACK_URL),
    KUBEPROBE_CHATOPS_DINGTALK_* (APP_KEY, APP_SECRET, ROBOT_CODE). Callback paths: /slack/events,
    /mattermost/command, /mattermost/actions, /dingtalk/callback.
    """
    import asyncio

    from kubeprobe.chatops.adapters.web import PLATFORMS
    from kubeprobe.chatops.service import serve_matrix, serve_platform

    settings = load_settings(config)
    if platform == "matrix":
        asyncio.run(serve_matrix(settings))
    elif platform in PLATFORMS:
        asyncio.run(serve_platform(settings, platform, host, port))
    else:
        raise typer.BadParameter(f"unknown platform {platform!r}", param_hint="PLATFORM")
