"""Paged LISTs, pipelined: the next page is asked for while the current one is still arriving.

A paged LIST is a chain: page k+1 can only be asked for with page k's continue token. Waiting for
page k to arrive whole and be decoded before asking for k+1 puts the client's work (receiving,
inflating, decoding) on the chain, page after page: at 100,000 pods that is 200 links. But the API
server writes a list's metadata, continue token included, before its items::

    {"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"9","continue":"eyJ2...",
     "remainingItemCount":9500},"items":[...

so the token is read from the first bytes of the body (:func:`head_continue`) and the next page is
asked for at once, while this one streams in. The chain then costs what the API server takes to
start each page; the client's work overlaps with it.

The early token is only a head start, never trusted: once the page is decoded, the token in its
metadata is compared with it, and a differing one (or a head laid out otherwise, as custom resource
lists are, with their metadata last) drops the early request and asks again with the decoded token.
So the pages, and what visitors see, are the same as without pipelining.

At most three pages of one LIST are held at once: one handed to the caller, one being decoded, one
arriving; memory stays bounded by the page size, never by the cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.decoding import Decode, whole
from kubeprobe.kube.errors import KubeAPIError, KubeConnectionError, api_error
from kubeprobe.kube.wire import Sink

Obj = dict[str, Any]
#: How much of a body is searched for the list's metadata.
HEAD = 4096
#: A list as the API server writes it: kind, apiVersion, then the list's metadata (flat: strings
#: and numbers only), then the items.
_LIST_HEAD = re.compile(rb'\{"kind":"[^"]*","apiVersion":"[^"]*","metadata":\{([^{}]*)\},"items":')
_CONTINUE = re.compile(rb'"continue":"([^"\\]*)"')


def head_continue(head: bytes) -> str | None:
    """The continue token in the first bytes of a list page: the token, ``""`` when the page says
    it is the last, ``None`` when the head does not tell (too short, or another layout)."""
    match = _LIST_HEAD.match(head)
    if match is None:
        return None
    token = _CONTINUE.search(match.group(1))
    return token.group(1).decode() if token else ""


Handover = asyncio.Queue["Obj | BaseException | None"]


async def handed_over(produce: Callable[[Handover], Awaitable[None]]) -> AsyncIterator[Obj]:
    """The pages ``produce`` puts on its queue (one at a time: it waits while the caller works),
    until it returns; what it raises is raised here."""
    queue: Handover = asyncio.Queue(maxsize=1)

    async def run() -> None:
        try:
            await produce(queue)
            await queue.put(None)
        except Exception as exc:  # handed to the consumer, which re-raises it
            await queue.put(exc)

    task = asyncio.create_task(run())
    try:
        while True:
            item = await queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@dataclass
class _Fetch:
    """One page on its way: its early token (set as soon as the head tells, or ``None``) and the
    task that reads the whole body."""

    early: asyncio.Future[str | None]
    body: asyncio.Task[tuple[int, bytes]]

    def cancel(self) -> None:
        self.body.cancel()
        # Its outcome is not wanted any more; retrieved so that a failure is not reported as lost.
        self.body.add_done_callback(lambda task: task.cancelled() or task.exception())


async def stream_get(kube: KubeClient, path: str, params: dict[str, Any], accept: str, sink: Sink) -> int:
    """One GET whose body goes to ``sink`` piece by piece (inflated); returns its status.

    Over the client's lean connections (:mod:`kubeprobe.kube.wire`), or httpx when it has none."""
    if kube._wire is not None:
        return await kube._wire.get(path, params, accept, sink)
    # The client keeps its httpx client private; the collection layer is part of the same package.
    http: httpx.AsyncClient = kube._http
    try:
        async with http.stream("GET", path, params=params, headers={"Accept": accept}) as resp:
            async for piece in resp.aiter_bytes():
                await sink(resp.status_code, piece)
            return resp.status_code
    except httpx.TimeoutException as exc:
        raise KubeConnectionError(f"{kube.conn.server}: GET {path} timed out") from exc
    except httpx.TransportError as exc:
        raise KubeConnectionError(f"{kube.conn.server}: cannot reach the API server: {exc}") from exc


async def _stream(
    kube: KubeClient, path: str, params: dict[str, Any], accept: str, early: asyncio.Future[str | None]
) -> tuple[int, bytes]:
    pieces: list[bytes] = []
    head = b""

    async def sink(status: int, piece: bytes) -> None:
        nonlocal head
        pieces.append(piece)
        if status < 400 and not early.done():
            head += piece[: HEAD - len(head)]
            token = head_continue(head)
            if token is not None or len(head) >= HEAD:
                early.set_result(token)

    try:
        status = await stream_get(kube, path, params, accept, sink)
    finally:
        if not early.done():
            early.set_result(None)
    return status, b"".join(pieces)


def _start(kube: KubeClient, path: str, params: dict[str, Any], accept: str) -> _Fetch:
    early: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
    return _Fetch(early, asyncio.create_task(_stream(kube, path, params, accept, early)))


def parse_page(path: str, status: int, body: bytes, decode: Decode) -> Obj:
    """A page decoded with ``decode`` (an error body always whole), errors mapped like the client's;
    ``__bytes__`` holds the body's size."""
    try:
        data: Any = decode(body) if status < 400 else whole(body)
    except ValueError:
        data = body.decode(errors="replace")
    if status >= 400:
        raise api_error(status, data)
    if not isinstance(data, dict):
        raise KubeAPIError(status, "BadResponse", f"GET {path}: not a JSON object")
    data["__bytes__"] = len(body)
    return data


async def pipelined_pages(
    kube: KubeClient, path: str, params: dict[str, Any], accept: str, decode: Decode
) -> AsyncIterator[Obj]:
    """The decoded pages of one LIST, following continue tokens, the next asked for early."""
    pending: list[_Fetch] = []

    def ask(token: str | None) -> _Fetch:
        fetch = _start(kube, path, {**params, "continue": token} if token else params, accept)
        pending.append(fetch)
        return fetch

    def drop(fetch: _Fetch) -> None:
        fetch.cancel()
        pending.remove(fetch)

    async def produce(queue: Handover) -> None:
        fetch: _Fetch | None = ask(None)
        while fetch is not None:
            early = await fetch.early
            ahead = ask(early) if early else None
            status, body = await fetch.body
            pending.remove(fetch)
            page = parse_page(path, status, body, decode)
            token = str((page.get("metadata") or {}).get("continue") or "")
            if early != token:  # the head did not tell, or (never seen) told otherwise
                if ahead:
                    drop(ahead)
                ahead = ask(token) if token else None
            await queue.put(page)
            fetch = ahead

    try:
        async for page in handed_over(produce):
            yield page
    finally:
        for fetch in pending:
            fetch.cancel()
        await asyncio.gather(*(f.body for f in pending), return_exceptions=True)
