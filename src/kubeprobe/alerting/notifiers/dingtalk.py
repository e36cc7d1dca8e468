"""DingTalk custom robot: a markdown message; with secrets.secret each request is signed
(timestamp in ms + HMAC-SHA256 of "timestamp\\nsecret" keyed by the secret, base64, url-encoded)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

import httpx

from kubeprobe.alerting.messages import Notification
from kubeprobe.alerting.notifiers.base import NotifierError, http_url, need, post_json, registry


def sign(timestamp_ms: int, secret: str) -> str:
    """The `sign` query value (already url-encoded)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest).decode())


def markdown(n: Notification) -> dict[str, Any]:
    lines = [f"### {n.title}", ""]
    for key, value in n.lines():
        if key == "run" and n.run_url:
            lines.append(f"- **run**: [{n.run_id or 'open'}]({n.run_url})")
        else:
            lines.append(f"- **{key}**: {value}")
    return {"msgtype": "markdown", "markdown": {"title": n.title[:64], "text": "\n".join(lines)}}


class DingTalkNotifier:
    kind = "dingtalk"

    def __init__(self, url: str, secret: str | None, client: httpx.AsyncClient) -> None:
        self.url, self.secret, self.client = url, secret, client

    def signed_url(self, now_ms: int | None = None) -> str:
        if not self.secret:
            return self.url
        ts = int(time.time() * 1000) if now_ms is None else now_ms
        joiner = "&" if "?" in self.url else "?"
        return f"{self.url}{joiner}timestamp={ts}&sign={sign(ts, self.secret)}"

    async def send(self, notification: Notification) -> None:
        resp = await post_json(self.client, self.signed_url(), markdown(notification), "dingtalk")
        try:
            answer = resp.json()
        except ValueError as exc:
            raise NotifierError(f"dingtalk answered non-JSON: {resp.text[:200]}") from exc
        if answer.get("errcode", 0) != 0:
            # 130101: sending too fast; other codes (bad sign, keyword, token) will not fix themselves
            raise NotifierError(
                f"dingtalk errcode {answer.get('errcode')}: {answer.get('errmsg')}",
                retryable=answer.get("errcode") == 130101,
            )


@registry.register("dingtalk")
def dingtalk(
    settings: Mapping[str, Any], secrets: Mapping[str, str], client: httpx.AsyncClient
) -> DingTalkNotifier:
    url = http_url(
        need(secrets, "webhook_url", "secrets", "the robot's URL with access_token"), "secrets.webhook_url"
    )
    return DingTalkNotifier(url, secrets.get("secret") or None, client)
