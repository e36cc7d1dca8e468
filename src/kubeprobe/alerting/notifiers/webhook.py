"""Generic webhook: the notification as JSON (every field, plus `title` and `text`) in one POST."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from kubeprobe.alerting.messages import Notification
from kubeprobe.alerting.notifiers.base import http_url, need, post_json, registry


class WebhookNotifier:
    kind = "webhook"

    def __init__(self, url: str, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.url, self.client, self.headers = url, client, headers

    async def send(self, notification: Notification) -> None:
        body = {"version": "1", **notification.as_json(), "text": notification.text()}
        await post_json(self.client, self.url, body, "webhook", self.headers)


@registry.register("webhook")
def webhook(
    settings: Mapping[str, Any], secrets: Mapping[str, str], client: httpx.AsyncClient
) -> WebhookNotifier:
    url = http_url(need(secrets, "url", "secrets", "where to POST the JSON"), "secrets.url")
    headers = {}
    if secrets.get("bearer_token"):
        headers["Authorization"] = f"Bearer {secrets['bearer_token']}"
    return WebhookNotifier(url, client, headers)
