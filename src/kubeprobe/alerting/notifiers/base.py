"""What every notifier is, how it fails, and the registry that builds one from a receiver's config.

NotifierError           a send failed; `retryable` says whether trying again can help
NotifierConfigError     a receiver's settings or secrets are wrong; the message names the field
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from kubeprobe.alerting.messages import Notification


class NotifierError(Exception):
    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class NotifierConfigError(ValueError):
    """A receiver that cannot work as configured."""


class Notifier(Protocol):
    @property
    def kind(self) -> str: ...

    async def send(self, notification: Notification) -> None: ...


Factory = Callable[[Mapping[str, Any], Mapping[str, str], httpx.AsyncClient], Notifier]


class NotifierRegistry:
    """Notifier kinds by name; registering a kind twice is an error, not a silent replacement."""

    def __init__(self) -> None:
        self._kinds: dict[str, Factory] = {}

    def register(self, kind: str) -> Callable[[Factory], Factory]:
        def add(factory: Factory) -> Factory:
            if kind in self._kinds:
                raise ValueError(f"notifier kind {kind!r} is registered twice")
            self._kinds[kind] = factory
            return factory

        return add

    def kinds(self) -> list[str]:
        return sorted(self._kinds)

    def build(
        self, kind: str, settings: Mapping[str, Any], secrets: Mapping[str, str], client: httpx.AsyncClient
    ) -> Notifier:
        factory = self._kinds.get(kind)
        if factory is None:
            raise NotifierConfigError(f"kind: {kind!r} is not a notifier; allowed: {', '.join(self.kinds())}")
        return factory(settings, secrets, client)


registry = NotifierRegistry()


def build_notifier(
    kind: str, settings: Mapping[str, Any], secrets: Mapping[str, str], client: httpx.AsyncClient
) -> Notifier:
    return registry.build(kind, settings, secrets, client)


def need(values: Mapping[str, Any], name: str, where: str, hint: str) -> Any:
    value = values.get(name)
    if value in (None, "", []):
        raise NotifierConfigError(f"{where}.{name}: required ({hint})")
    return value


def http_url(value: Any, field: str) -> str:
    text = str(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise NotifierConfigError(f"{field}: {_redact(text)!r} is not an http(s) URL")
    return text


def _redact(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path[:12]}..." if parts.netloc else url[:12] + "..."


def check_response(resp: httpx.Response, service: str) -> None:
    """2xx is success; 429 and 5xx are worth retrying; any other answer is a configuration problem."""
    if resp.is_success:
        return
    retryable = resp.status_code == 429 or resp.status_code >= 500
    raise NotifierError(f"{service} answered {resp.status_code}: {resp.text[:200]}", retryable=retryable)


async def post_json(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    service: str,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    try:
        resp = await client.post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise NotifierError(f"{service} unreachable at {_redact(url)}: {type(exc).__name__}: {exc}") from exc
    check_response(resp, service)
    return resp
