"""The CLI's client of a running center: where it is, which token, errors as messages, tables or JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from kubeprobe.center.settings import ClientSettings

out = Console()


class CenterClientError(Exception):
    """The center refused a request or cannot be reached; the message says why."""


class Output(StrEnum):
    TABLE = "table"
    JSON = "json"


OutputOpt = Annotated[Output, typer.Option("--output", "-o", help="table for people, json for scripts.")]


def center_url() -> str:
    return ClientSettings().url.rstrip("/")


def center_token() -> str | None:
    """KUBEPROBE_TOKEN, else the admin token a local first start wrote into the data dir."""
    settings = ClientSettings()
    if settings.token:
        return settings.token
    path = settings.data_dir / "admin-token"
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def call(method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None) -> Any:
    """One request to the center; returns the decoded JSON, raises CenterClientError on failure."""
    url = center_url()
    token = center_token()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    query = {k: v for k, v in (params or {}).items() if v is not None}
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            resp = client.request(method, path, json=body, params=query)
    except httpx.TransportError as exc:
        raise CenterClientError(
            f"cannot reach the center at {url}: {exc or type(exc).__name__} "
            "(is `kubeprobe server` running? set KUBEPROBE_URL to its address)"
        ) from exc
    if resp.status_code >= 400:
        try:
            detail = resp.json().get("detail", resp.text)
        except ValueError:
            detail = resp.text
        hint = " (set KUBEPROBE_TOKEN; `kubeprobe token create` makes one)" if resp.status_code == 401 else ""
        raise CenterClientError(f"{resp.status_code}: {detail}{hint}")
    return resp.json() if resp.content else None


def all_pages(path: str, params: dict[str, Any] | None = None, *, cursor: str = "after") -> list[Any]:
    items: list[Any] = []
    query = dict(params or {})
    while True:
        page = call("GET", path, params=query)
        items.extend(page["items"])
        if not page.get("next"):
            return items
        query[cursor] = page["next"]


def show(data: Any, output: Output, columns: Sequence[str], *, title: str | None = None) -> None:
    """Print a list of objects (or one) as a table or as JSON."""
    if output is Output.JSON:
        out.print_json(json.dumps(data, default=str))
        return
    rows = data if isinstance(data, list) else [data]
    table = Table(title=title, show_edge=False, pad_edge=False)
    for col in columns:
        table.add_column(col.upper().replace("_", " "))
    for row in rows:
        table.add_row(*(_cell(row.get(col)) for col in columns))
    out.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def pairs(items: list[str] | None, what: str) -> dict[str, str]:
    """k=v options into a dict."""
    result: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item!r} is not key=value", param_hint=what)
        result[key] = value
    return result


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(text: str | None, what: str) -> float | None:
    """'90', '90s', '5m', '1h', '1d' into seconds."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not m:
        raise typer.BadParameter(f"{text!r} is not a duration like 30s, 5m, 1h", param_hint=what)
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]
