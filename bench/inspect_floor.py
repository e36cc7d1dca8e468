"""The true floor of an inspection sweep: what the API server takes to serve the sweep's LISTs.

Every LIST the catalog's sweep makes (same resources, same metadata-only choices, selectors, page
size and content encoding) is fetched as raw bytes and thrown away undecoded. Only the continue token is read,
from the list's metadata at the head of each page (a regular expression on the JSON text; a few
varints of protobuf), so the client does no work beyond receiving the bytes. The LISTs run
``concurrency`` at a time, over the same HTTP client the sweep uses; the benchmark tries several
concurrencies and keeps the fastest as the floor.

``encoding="protobuf"`` asks for ``application/vnd.kubernetes.protobuf`` instead of JSON: the API
server encodes protobuf several times cheaper than JSON, which is what a Go client such as k8sgpt
gets. It is recorded beside the JSON floor so the two can be told apart.
"""

from __future__ import annotations

import asyncio
import re
import time
import zlib
from dataclasses import dataclass
from typing import Any

import httpx

from kubeprobe.cases.inspections.check import CheckContext
from kubeprobe.cases.inspections.registry import CATALOG
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.collect import ALL_RESOURCES, METADATA_ACCEPT, ListSpec, discover, plan

PROTOBUF = "application/vnd.kubernetes.protobuf"
PROTOBUF_METADATA = f"{PROTOBUF};as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
#: The list's metadata comes first in the API server's JSON; its continue token is a plain string.
_JSON_CONTINUE = re.compile(rb'"metadata":\{[^{}]*?"continue":"([^"]*)"')
_HEAD = 4096


@dataclass
class FloorRun:
    seconds: float
    bytes: int
    pages: int
    lists: int
    failed: int


async def sweep_plan(kube: KubeClient) -> list[ListSpec]:
    """The LISTs the whole catalog's sweep makes (same merge as the engine)."""
    ctx = CheckContext("bench")
    needs = [n for cls in CATALOG for n in cls(ctx).wants()]
    discovery = await discover(kube) if any(n.resource == ALL_RESOURCES for n in needs) else None
    return plan(needs, discovery)


def _varint(buf: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def _field(buf: bytes, at: int, end: int, wanted: int) -> tuple[int, int] | None:
    """(start, end) of the first length-delimited field ``wanted`` in buf[at:end], or None."""
    while at < end:
        key, at = _varint(buf, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, at = _varint(buf, at)
        elif wire == 2:
            size, at = _varint(buf, at)
            if number == wanted:
                return at, at + size
            at += size
        elif wire == 1:
            at += 8
        elif wire == 5:
            at += 4
        else:
            return None
    return None


def protobuf_continue(head: bytes) -> str:
    """The continue token of a protobuf list page: 'k8s\\0' + runtime.Unknown{raw (2): List{
    metadata (1): ListMeta{continue (3)}}}. Only the head of the page is needed."""
    if not head.startswith(b"k8s\x00"):
        return ""
    try:
        raw = _field(head, 4, len(head), 2)
        if raw is None:
            return ""
        meta = _field(head, raw[0], len(head), 1)
        if meta is None:
            return ""
        token = _field(head, meta[0], meta[1], 3)
    except IndexError:
        return ""
    return head[token[0] : token[1]].decode() if token else ""


def json_continue(head: bytes) -> str:
    match = _JSON_CONTINUE.search(head)
    return match.group(1).decode() if match else ""


async def _one_list(
    http: httpx.AsyncClient, spec: ListSpec, page_size: int, encoding: str, run: FloorRun
) -> None:
    params: dict[str, Any] = {"limit": page_size}
    if spec.field_selector:
        params["fieldSelector"] = spec.field_selector
    if spec.label_selector:
        params["labelSelector"] = spec.label_selector
    if encoding == "protobuf":
        # Custom resources are served as JSON only: the API server falls back when told it may.
        accept = (
            f"{PROTOBUF_METADATA},{METADATA_ACCEPT}" if spec.metadata_only else f"{PROTOBUF},application/json"
        )
    else:
        accept = METADATA_ACCEPT if spec.metadata_only else "application/json"
    while True:
        head = b""
        async with http.stream(
            "GET", spec.resource.path(), params=params, headers={"Accept": accept}
        ) as resp:
            # Compressed (the API server gzips big responses when asked): only the head is
            # inflated, for the continue token.
            gzipped = resp.headers.get("content-encoding") == "gzip"
            inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
            async for chunk in resp.aiter_raw():
                if len(head) < _HEAD:
                    head += inflate.decompress(chunk, _HEAD) if gzipped else chunk[:_HEAD]
                run.bytes += len(chunk)
            if resp.status_code >= 400:
                run.failed += 1
                return
        run.pages += 1
        token = protobuf_continue(head) if head.startswith(b"k8s\x00") else json_continue(head)
        if not token:
            return
        params["continue"] = token


async def true_floor(
    kube: KubeClient, specs: list[ListSpec], page_size: int, concurrency: int, encoding: str = "json"
) -> FloorRun:
    """Serve every spec as raw bytes, ``concurrency`` LISTs at a time; nothing is decoded."""
    http: httpx.AsyncClient = kube._http  # the sweep's own transport, TLS and connection pool
    run = FloorRun(0.0, 0, 0, len(specs), 0)
    queue: asyncio.Queue[ListSpec] = asyncio.Queue()
    # Biggest first (pods, nodes): the long LISTs start at once and the small ones fill the gaps.
    for spec in sorted(specs, key=lambda s: s.resource.plural not in ("pods", "nodes")):
        queue.put_nowait(spec)

    async def worker() -> None:
        while not queue.empty():
            await _one_list(http, queue.get_nowait(), page_size, encoding, run)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.seconds = time.perf_counter() - start
    return run
