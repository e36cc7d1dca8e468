"""Reading an external source of truth (node inventory, IPAM export): a CSV or JSON file, or an
http(s) URL answering JSON. Rows come back as dicts of strings with lower-case keys."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path
from typing import Any

import httpx

from kubeprobe.cases.inspections.errors import SourceError

Row = dict[str, str]


def _rows_from_json(doc: Any, where: str) -> list[Row]:
    if isinstance(doc, dict):
        doc = doc.get("items", doc.get("nodes", doc.get("allocations")))
    if not isinstance(doc, list):
        raise SourceError(f"{where}: expected a JSON list of objects (or {{'items': [...]}})")
    rows = []
    for item in doc:
        if isinstance(item, str):
            rows.append({"name": item})
        elif isinstance(item, dict):
            rows.append({str(k).lower(): "" if v is None else str(v) for k, v in item.items()})
        else:
            raise SourceError(f"{where}: every entry must be an object or a string, got {item!r}")
    return rows


def _rows_from_csv(text: str, where: str) -> list[Row]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise SourceError(f"{where}: the CSV has no header line")
    return [{str(k).strip().lower(): (v or "").strip() for k, v in row.items() if k} for row in reader]


async def load_rows(source: str, *, timeout: float = 30.0) -> list[Row]:
    """Rows of a CSV/JSON file or an http(s) JSON endpoint; SourceError says what is wrong."""
    if source.startswith(("http://", "https://")):
        try:
            async with httpx.AsyncClient(timeout=timeout) as http:
                resp = await http.get(source, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise SourceError(f"{source}: cannot be fetched: {exc or type(exc).__name__}") from exc
        if resp.status_code >= 400:
            raise SourceError(f"{source}: answered HTTP {resp.status_code}")
        try:
            return _rows_from_json(resp.json(), source)
        except ValueError as exc:
            raise SourceError(f"{source}: the answer is not JSON: {exc}") from exc
    file = Path(source)
    try:
        text = await asyncio.to_thread(file.read_text)
    except OSError as exc:
        raise SourceError(f"{file}: cannot be read: {exc.strerror or exc}") from exc
    if file.suffix.lower() == ".json":
        try:
            return _rows_from_json(json.loads(text), str(file))
        except ValueError as exc:
            raise SourceError(f"{file}: not valid JSON: {exc}") from exc
    return _rows_from_csv(text, str(file))


def column(row: Row, *names: str) -> str:
    for name in names:
        if row.get(name):
            return row[name]
    return ""
