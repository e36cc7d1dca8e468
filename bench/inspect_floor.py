"""The true floor of an inspection sweep: what the API server takes to serve the sweep's LISTs.

Every LIST the catalog's sweep makes (same resources, same metadata-only choices, selectors and
content encoding) is fetched as raw bytes and thrown away undecoded, over the sweep's own lean
connections (:mod:`kubeprobe.kube.wire`, not inflated). ``page_size=0`` asks for each LIST whole,
as the sweep does (:mod:`kubeprobe.kube.streaming`); a page size asks for pages with continue
tokens, the token read from the head of each page (as the sweep reads it,
:func:`~kubeprobe.kube.paging.head_continue`; a few varints of protobuf; at the tail for lists that
put their metadata last) and the next page asked for at once, while the rest arrives
(``pipelined=False``: once the page ended). So the client does no work beyond receiving the bytes.
The LISTs run ``concurrency`` at a time; the benchmark tries several ways and keeps the fastest as
the floor.

``encoding="protobuf"`` asks for ``application/vnd.kubernetes.protobuf`` instead of JSON: what a Go
client such as k8sgpt gets. It is recorded beside the JSON floor so the two can be told apart.
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
from kubeprobe.kube.collect import ALL_RESOURCES, METADATA_ACCEPT, ListSpec, big_first, discover, plan
from kubeprobe.kube.paging import HEAD as _HEAD
from kubeprobe.kube.paging import head_continue
from kubeprobe.kube.wire import Sink

PROTOBUF = "application/vnd.kubernetes.protobuf"
PROTOBUF_METADATA = f"{PROTOBUF};as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
#: Lists of custom resources have their keys sorted: the list's metadata comes last.
_JSON_TAIL = re.compile(rb'"metadata":\{([^{}]*)\}\}\s*$')
_JSON_TOKEN = re.compile(rb'"continue":"([^"\\]*)"')


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


def protobuf_continue(head: bytes) -> str | None:
    """The continue token of a protobuf list page: 'k8s\\0' + runtime.Unknown{raw (2): List{
    metadata (1): ListMeta{continue (3)}}}. Only the head of the page is needed; ``""``: the last
    page, ``None``: the head is too short to tell."""
    if not head.startswith(b"k8s\x00"):
        return None
    try:
        raw = _field(head, 4, len(head), 2)
        if raw is None:
            return None
        meta = _field(head, raw[0], len(head), 1)
        if meta is None or meta[1] > len(head):
            return None
        token = _field(head, meta[0], meta[1], 3)
    except IndexError:
        return None
    return head[token[0] : token[1]].decode() if token else ""


def tail_continue(tail: bytes) -> str:
    """The continue token of a JSON list page whose metadata comes last (custom resources)."""
    match = _JSON_TAIL.search(tail)
    token = _JSON_TOKEN.search(match.group(1)) if match else None
    return token.group(1).decode() if token else ""


@dataclass
class _Page:
    early: asyncio.Future[str | None]  # the token, as soon as the head tells
    done: asyncio.Task[str]  # the token, once the page ended ("" when it was the last or failed)


async def _raw_get(kube: KubeClient, path: str, params: dict[str, Any], accept: str, sink: Sink) -> int:
    """One GET, its body to ``sink`` as it came (gzipped or not), over the sweep's own transport."""
    if kube._wire is not None:
        return await kube._wire.get(path, params, accept, sink, inflate=False)
    http: httpx.AsyncClient = kube._http
    async with http.stream("GET", path, params=params, headers={"Accept": accept}) as resp:
        async for chunk in resp.aiter_raw():
            await sink(resp.status_code, chunk)
        return resp.status_code


async def _read_page(
    kube: KubeClient,
    path: str,
    params: dict[str, Any],
    accept: str,
    *,
    run: FloorRun,
    early: asyncio.Future[str | None],
) -> str:
    head, tail = b"", b""
    inflate: Any = None

    async def sink(status: int, chunk: bytes) -> None:
        # Compressed (the API server gzips big responses when asked): only what is needed for the
        # continue token is inflated, the head (and the tail when the head does not tell).
        nonlocal head, tail, inflate
        run.bytes += len(chunk)
        if inflate is None:
            inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if chunk[:2] == b"\x1f\x8b" else False
        if status >= 400 or (early.done() and early.result() is not None):
            return
        text = inflate.decompress(chunk) if inflate else chunk
        tail = (tail + text)[-_HEAD:]
        if not early.done():
            head += text[: _HEAD - len(head)]
            proto = head.startswith(b"k8s\x00")
            token = protobuf_continue(head) if proto else head_continue(head)
            if token is not None or len(head) >= _HEAD:
                early.set_result(token)

    try:
        status = await _raw_get(kube, path, params, accept, sink)
    finally:
        if not early.done():
            early.set_result(None)
    if status >= 400:
        run.failed += 1
        return ""
    run.pages += 1
    found = early.result()
    return found if found is not None else tail_continue(tail)


async def _one_list(
    kube: KubeClient, spec: ListSpec, page_size: int, encoding: str, *, run: FloorRun, pipelined: bool
) -> None:
    params: dict[str, Any] = {"limit": page_size} if page_size > 0 else {}
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

    def ask(token: str | None) -> _Page:
        early: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        query = {**params, "continue": token} if token else params
        return _Page(
            early,
            asyncio.create_task(_read_page(kube, spec.resource.path(), query, accept, run=run, early=early)),
        )

    page: _Page | None = ask(None)
    while page is not None:
        early = await page.early if pipelined else None
        ahead = ask(early) if early else None
        token = await page.done
        if ahead is None and token:
            ahead = ask(token)
        page = ahead


async def true_floor(
    kube: KubeClient,
    specs: list[ListSpec],
    page_size: int,
    concurrency: int,
    encoding: str = "json",
    *,
    pipelined: bool = True,
) -> FloorRun:
    """Serve every spec as raw bytes, ``concurrency`` LISTs at a time; nothing is decoded."""
    run = FloorRun(0.0, 0, 0, len(specs), 0)
    queue: asyncio.Queue[ListSpec] = asyncio.Queue()
    # In the sweep's order, biggest first: the long LISTs start at once, the small ones fill the gaps.
    for spec in sorted(specs, key=big_first):
        queue.put_nowait(spec)

    async def worker() -> None:
        while not queue.empty():
            await _one_list(kube, queue.get_nowait(), page_size, encoding, run=run, pipelined=pipelined)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.seconds = time.perf_counter() - start
    return run
