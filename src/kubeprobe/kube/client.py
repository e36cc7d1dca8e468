"""An async Kubernetes client over httpx: raw JSON in and out, paged lists, watches.

Raw objects stay plain dicts (the API's JSON); paths are built by :func:`resource_path`.
Errors are mapped into :mod:`kubeprobe.kube.errors` so callers can tell a refusal from an outage.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncGenerator, AsyncIterator
from types import TracebackType
from typing import Any, Literal

import httpx

from kubeprobe.kube import tlsguard
from kubeprobe.kube.config import ClusterConnection
from kubeprobe.kube.errors import KubeConnectionError, KubeError, api_error
from kubeprobe.kube.wire import Wire, usable

PatchType = Literal["merge", "strategic", "json", "apply"]
_PATCH_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}
Obj = dict[str, Any]


def resource_path(
    api_version: str,
    plural: str,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
) -> str:
    """The REST path of a resource: ``resource_path("apps/v1", "deployments", "ns", "web")``."""
    base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    parts = [base]
    if namespace:
        parts.append(f"namespaces/{namespace}")
    parts.append(plural)
    if name:
        parts.append(name)
    if subresource:
        parts.append(subresource)
    return "/".join(parts)


class KubeClient:
    """One cluster's API server. Use as ``async with KubeClient(conn) as kube: ...``."""

    def __init__(
        self, conn: ClusterConnection, *, timeout: float = 30.0, connections: int | None = None
    ) -> None:
        """``connections``: open connections allowed and kept alive (default: 50 open, 20 kept);
        a resident operator with many API-level probes keeps as many as run at once, so that no
        probe pays a TLS handshake for a connection closed a second before."""
        self.conn = conn
        limits = (
            httpx.Limits(max_connections=50, max_keepalive_connections=20)
            if connections is None
            else httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        )
        headers = {"Accept": "application/json", "User-Agent": "kubeprobe"}
        if conn.token:
            headers["Authorization"] = f"Bearer {conn.token}"
        self._http = tlsguard.guard(
            httpx.AsyncClient(
                base_url=conn.server,
                verify=conn.ssl_context() if conn.server.startswith("https") else False,
                headers=headers,
                timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                limits=limits,
            )
        )
        # LIST pages of inspections go over lean connections of their own (kube/wire.py).
        self._wire = Wire(conn, timeout=timeout, headers=headers) if usable(conn) else None

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()
        if self._wire is not None:
            await self._wire.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        content_type: str = "application/json",
        timeout: float | None = None,
    ) -> Any:
        """Send one request; return the decoded JSON (or text) body, raise on an error status."""
        content = None
        headers = {}
        if body is not None:
            content = body if isinstance(body, (bytes, str)) else json.dumps(body)
            headers["Content-Type"] = content_type
        try:
            resp = await self._http.request(
                method,
                path,
                content=content,
                params=params,
                headers=headers,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.TimeoutException as exc:
            raise KubeConnectionError(f"{self.conn.server}: {method} {path} timed out") from exc
        except (httpx.TransportError, ssl.SSLError) as exc:
            # TLS 1.3 reports a refused client certificate on the first read, as a bare SSLError.
            raise KubeConnectionError(
                f"{self.conn.server}: cannot reach the API server: {exc or type(exc).__name__}"
            ) from exc
        return self._decode(resp)

    @staticmethod
    def _decode(resp: httpx.Response) -> Any:
        is_json = resp.headers.get("content-type", "").startswith("application/json")
        try:
            data: Any = resp.json() if is_json else resp.text
        except ValueError:
            data = resp.text
        if resp.status_code >= 400:
            raise api_error(resp.status_code, data)
        return data

    async def get(self, path: str, **params: Any) -> Obj:
        result: Obj = await self.request("GET", path, params=params or None)
        return result

    async def create(self, path: str, obj: Obj) -> Obj:
        result: Obj = await self.request("POST", path, body=obj)
        return result

    async def replace(self, path: str, obj: Obj) -> Obj:
        result: Obj = await self.request("PUT", path, body=obj)
        return result

    async def patch(self, path: str, patch: Any, patch_type: PatchType = "merge") -> Obj:
        params = {"fieldManager": "kubeprobe", "force": "true"} if patch_type == "apply" else None
        result: Obj = await self.request(
            "PATCH", path, body=patch, params=params, content_type=_PATCH_CONTENT_TYPES[patch_type]
        )
        return result

    async def delete(
        self, path: str, *, grace_period_seconds: int | None = None, missing_ok: bool = True
    ) -> Obj | None:
        """Delete an object; a missing object is fine unless ``missing_ok`` is False."""
        params = {"gracePeriodSeconds": grace_period_seconds} if grace_period_seconds is not None else None
        try:
            result: Obj = await self.request("DELETE", path, params=params)
        except KubeError as exc:
            if missing_ok and getattr(exc, "status", None) == 404:
                return None
            raise
        return result

    async def iter_pages(
        self, path: str, *, limit: int = 500, metadata_only: bool = False, **params: Any
    ) -> AsyncIterator[Obj]:
        """Yield each page of a LIST, following ``continue`` tokens.

        ``metadata_only`` asks for PartialObjectMetadataList, which is far smaller when a caller
        needs only names, labels, owners and timestamps.
        """
        query: dict[str, Any] = {"limit": limit, **params}
        headers_accept = None
        if metadata_only:
            headers_accept = (
                "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
            )
        while True:
            if headers_accept:
                page = await self._get_with_accept(path, query, headers_accept)
            else:
                page = await self.get(path, **query)
            yield page
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return
            query["continue"] = token

    async def _get_with_accept(self, path: str, params: dict[str, Any], accept: str) -> Obj:
        try:
            resp = await self._http.get(path, params=params, headers={"Accept": accept})
        except httpx.TransportError as exc:
            raise KubeConnectionError(f"{self.conn.server}: cannot reach the API server: {exc}") from exc
        result: Obj = self._decode(resp)
        return result

    async def list_all(self, path: str, **params: Any) -> list[Obj]:
        """All items of a LIST, paged."""
        items: list[Obj] = []
        async for page in self.iter_pages(path, **params):
            items.extend(page.get("items") or [])
        return items

    async def watch(
        self,
        path: str,
        *,
        resource_version: str | None = None,
        timeout_seconds: int = 300,
        **params: Any,
    ) -> AsyncGenerator[Obj, None]:
        """Yield watch events ``{"type": ..., "object": ...}`` until the server ends the watch."""
        query: dict[str, Any] = {"watch": "true", "timeoutSeconds": timeout_seconds, **params}
        if resource_version:
            query["resourceVersion"] = resource_version
        try:
            async with self._http.stream(
                "GET", path, params=query, timeout=httpx.Timeout(timeout_seconds + 10, connect=10)
            ) as resp:
                if resp.status_code >= 400:
                    await resp.aread()
                    self._decode(resp)
                async for line in resp.aiter_lines():
                    if line.strip():
                        yield json.loads(line)
        except httpx.TransportError as exc:
            raise KubeConnectionError(f"{self.conn.server}: watch of {path} broke: {exc}") from exc
