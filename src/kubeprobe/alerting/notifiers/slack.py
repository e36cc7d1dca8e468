"""Slack: an incoming webhook (secrets.webhook_url) or chat.postMessage with a bot token
(secrets.bot_token + settings.channel). Both send `text` (the fallback) and Block Kit `blocks`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from kubeprobe.alerting.messages import Notification
from kubeprobe.alerting.notifiers.base import (
    NotifierConfigError,
    NotifierError,
    http_url,
    need,
    post_json,
    registry,
)

POST_MESSAGE_URL = "https://slack.com/api/chat.postMessage"
EMOJI = {"firing": ":rotating_light:", "escalated": ":fire:", "reminder": ":bell:", "acknowledged": ":eyes:",
         "resolved": ":white_check_mark:"}  # fmt: skip


def blocks(n: Notification) -> list[dict[str, Any]]:
    fields = [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in n.lines() if k not in ("run", "message")]
    result: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": n.title[:150], "emoji": True}},
        {"type": "section", "fields": fields[:10]},
    ]
    if n.message:
        result.append({"type": "section", "text": {"type": "mrkdwn", "text": f"```{n.message[:2900]}```"}})
    if n.run_url:
        result.append(
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Open run"}, "url": n.run_url}
                ],
            }
        )
    return result


def payload(n: Notification) -> dict[str, Any]:
    return {"text": f"{EMOJI.get(n.event, '')} {n.text()}".strip(), "blocks": blocks(n)}


class SlackWebhookNotifier:
    kind = "slack"

    def __init__(self, url: str, client: httpx.AsyncClient) -> None:
        self.url, self.client = url, client

    async def send(self, notification: Notification) -> None:
        await post_json(self.client, self.url, payload(notification), "slack webhook")


class SlackBotNotifier:
    kind = "slack"

    def __init__(self, token: str, channel: str, api_url: str, client: httpx.AsyncClient) -> None:
        self.token, self.channel, self.api_url, self.client = token, channel, api_url, client

    async def send(self, notification: Notification) -> None:
        body = {"channel": self.channel, **payload(notification)}
        headers = {"Authorization": f"Bearer {self.token}"}
        resp = await post_json(self.client, self.api_url, body, "slack chat.postMessage", headers)
        try:
            answer = resp.json()
        except ValueError as exc:
            raise NotifierError(f"slack chat.postMessage answered non-JSON: {resp.text[:200]}") from exc
        if not answer.get("ok"):
            error = answer.get("error", "unknown")
            raise NotifierError(
                f"slack chat.postMessage: {error}", retryable=error in ("ratelimited", "internal_error")
            )


@registry.register("slack")
def slack(settings: Mapping[str, Any], secrets: Mapping[str, str], client: httpx.AsyncClient) -> Any:
    if secrets.get("webhook_url"):
        return SlackWebhookNotifier(http_url(secrets["webhook_url"], "secrets.webhook_url"), client)
    if not secrets.get("bot_token"):
        raise NotifierConfigError(
            "secrets: a Slack receiver needs webhook_url (incoming webhook), "
            "or bot_token with settings.channel"
        )
    channel = str(need(settings, "channel", "settings", "the channel id or name chat.postMessage posts to"))
    api_url = http_url(settings.get("api_url", POST_MESSAGE_URL), "settings.api_url")
    return SlackBotNotifier(secrets["bot_token"], channel, api_url, client)
