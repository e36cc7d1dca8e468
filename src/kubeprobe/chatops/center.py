"""The bot's client of the center's HTTP API, acting for one chat user at a time.

Every request carries the token of the role the chat user maps to (so the center checks the role
again: a viewer's request to start a run is refused by the center even if the bot erred) and the
header ``X-KubeProbe-On-Behalf-Of`` with the chat user's key, and every comment the bot writes (ack,
silence) names the chat user, so the audit trail says who in chat asked.
"""

from __future__ import annotations

from typing import Any

import httpx

from kubeprobe.chatops.config import ChatOpsSettings, Role

ON_BEHALF = "X-KubeProbe-On-Behalf-Of"


class CenterError(Exception):
    """The center refused a request or cannot be reached; ``status`` is the HTTP status (0: no answer)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ChatCenter:
    """Async calls to the center; one connection pool for every chat user."""

    def __init__(self, settings: ChatOpsSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self._http = httpx.AsyncClient(base_url=settings.center_url, timeout=30, transport=transport)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(
        self,
        role: Role,
        user: str,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.settings.token(role)}"}
        if ":" in user:  # a chat user (the bot's own reads go as the bot)
            headers[ON_BEHALF] = user[:200]
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            resp = await self._http.request(method, path, json=body, params=query, headers=headers)
        except httpx.TransportError as exc:
            raise CenterError(0, f"the center does not answer ({type(exc).__name__})") from exc
        if resp.status_code >= 400:
            try:
                detail = resp.json().get("detail", resp.text)
            except ValueError:
                detail = resp.text
            raise CenterError(resp.status_code, str(detail)[:300])
        return resp.json() if resp.content else None

    async def names(self, role: Role) -> tuple[list[str], list[str]]:
        """Cluster and case names (the catalog names are resolved against)."""
        clusters = await self._all(role, "/api/v1/clusters")
        cases = await self._all(role, "/api/v1/cases")
        return [c["name"] for c in clusters], [c["name"] for c in cases]

    async def _all(self, role: Role, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 1000}
        for _ in range(100):
            page = await self.call(role, "kubeprobe-chatops", "GET", path, params=params)
            items.extend(page["items"])
            if not page.get("next"):
                break
            params["after"] = page["next"]
        return items
