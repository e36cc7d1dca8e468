"""Slack adapter (slack-bolt): HTTP events or Socket Mode in, Block Kit buttons, ``chat.update`` edits.

In: ``app_mention`` and direct ``message`` events, the ``/kp`` slash command, and ``block_actions``
from our buttons (action ids ``kp-0``, ``kp-1`` ..., the button's action in its ``value``). Over HTTP
every request must carry a valid ``X-Slack-Signature`` (``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{body}``
with the signing secret) and an ``X-Slack-Request-Timestamp`` within five minutes; a request whose
signature was already seen is a replay and refused too (Slack's own retries carry a new timestamp
and signature, and are de-duplicated by ``event_id``). Socket Mode needs no signature (Slack opens
the connection for the app token). A button click is :meth:`Bot.click` with the clicking user,
checked again. Out: ``chat.postMessage`` with a section and an actions block; edits ``chat.update``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from kubeprobe.chatops.adapters.replay import Seen
from kubeprobe.chatops.bot import Bot
from kubeprobe.chatops.messages import ChatUser, Inbound, Reply

log = logging.getLogger(__name__)
PLATFORM = "slack"
_MENTION = re.compile(r"<@[A-Z0-9]+>")


class SlackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KUBEPROBE_CHATOPS_SLACK_", extra="ignore")

    bot_token: SecretStr = Field(description="xoxb-... (chat:write, app_mentions:read, commands)")
    signing_secret: SecretStr = Field(description="the app's signing secret (HTTP mode)")
    app_token: SecretStr | None = Field(default=None, description="xapp-... for Socket Mode")
    api_url: str = Field(default="https://slack.com/api/", description="Slack's Web API")


def blocks(reply: Reply) -> list[dict[str, Any]]:
    """A section with the text (mrkdwn with Slack's three escapes) and an actions block of buttons."""
    text = reply.text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}]
    if reply.buttons:
        elements = []
        for i, b in enumerate(reply.buttons):
            button: dict[str, Any] = {
                "type": "button",
                "action_id": f"kp-{i}",
                "text": {"type": "plain_text", "text": b.label},
                "value": b.action,
            }
            if b.danger:
                button["style"] = "danger"
            elements.append(button)
        out.append({"type": "actions", "elements": elements})
    return out


class SlackAdapter:
    """A :class:`ChatTransport` on a Slack app, and its listeners."""

    def __init__(self, settings: SlackSettings, bot: Bot | None = None) -> None:
        self.settings = settings
        self.bot = bot
        self.client = AsyncWebClient(token=settings.bot_token.get_secret_value(), base_url=settings.api_url)
        self.verifier = SignatureVerifier(settings.signing_secret.get_secret_value())
        self.app = AsyncApp(
            client=self.client,
            signing_secret=settings.signing_secret.get_secret_value(),
            process_before_response=True,
        )
        self.seen_signatures = Seen()
        self.seen_events = Seen()
        self.app.event("app_mention")(self._on_mention)
        self.app.event("message")(self._on_message)
        self.app.command("/kp")(self._on_command)
        self.app.action(re.compile(r"^kp-\d+$"))(self._on_action)

    # --- ChatTransport ----------------------------------------------------------------------------

    async def send(self, channel: str, reply: Reply) -> str:
        resp = await self.client.chat_postMessage(
            channel=channel.removeprefix(f"{PLATFORM}:"), text=reply.text[:3000], blocks=blocks(reply)
        )
        return str(resp["ts"])

    async def edit(self, channel: str, message_id: str, reply: Reply) -> None:
        await self.client.chat_update(
            channel=channel.removeprefix(f"{PLATFORM}:"),
            ts=message_id,
            text=reply.text[:3000],
            blocks=blocks(reply),
        )

    # --- HTTP ---------------------------------------------------------------------------------------

    async def handle_http(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, str], str]:
        """One request from Slack (events, commands, interactivity): status, headers, body."""
        lower = {k.lower(): v for k, v in headers.items()}
        if not self.verifier.is_valid_request(body, lower):
            return 401, {}, "invalid signature or stale timestamp"
        if not self.seen_signatures.first(lower.get("x-slack-signature", "")):
            return 401, {}, "replayed request"
        resp = await self.app.async_dispatch(
            AsyncBoltRequest(body=body.decode("utf-8", "replace"), headers=dict(lower), mode="http")
        )
        return resp.status, {k: v[0] for k, v in resp.headers.items() if v}, resp.body

    async def socket_mode(self) -> AsyncSocketModeHandler:
        """A Socket Mode handler for this app (``await handler.connect_async()``; needs the app token)."""
        if self.settings.app_token is None:
            raise ValueError("Socket Mode needs KUBEPROBE_CHATOPS_SLACK_APP_TOKEN (xapp-...)")
        web = AsyncWebClient(token=self.settings.app_token.get_secret_value(), base_url=self.settings.api_url)
        return AsyncSocketModeHandler(self.app, self.settings.app_token.get_secret_value(), web_client=web)

    # --- listeners ----------------------------------------------------------------------------------

    def _user(self, user_id: str, name: str = "") -> ChatUser:
        return ChatUser(PLATFORM, user_id, name)

    async def _answer(self, user: ChatUser, channel_id: str, text: str) -> None:
        assert self.bot is not None
        channel = f"{PLATFORM}:{channel_id}"
        reply = await self.bot.handle(Inbound(user, channel, text))
        if reply is not None:
            await self.send(channel, reply)

    async def _on_mention(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if self.bot is None or not self.seen_events.first(str(body.get("event_id") or event.get("ts"))):
            return
        await self._answer(
            self._user(event["user"]), event["channel"], _MENTION.sub("", event.get("text", ""))
        )

    async def _on_message(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return  # channel messages reach us as app_mention
        if self.bot is None or not self.seen_events.first(str(body.get("event_id") or event.get("ts"))):
            return
        await self._answer(self._user(event["user"]), event["channel"], event.get("text", ""))

    async def _on_command(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack()
        if self.bot is None:
            return
        user = self._user(command["user_id"], command.get("user_name", ""))
        await self._answer(user, command["channel_id"], f"/kp {command.get('text', '')}".strip())

    async def _on_action(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        if self.bot is None:
            return
        key = f"{body.get('trigger_id')}/{action.get('action_ts')}"
        if not self.seen_events.first(key):
            return
        user = self._user(body["user"]["id"], body["user"].get("username", ""))
        channel = f"{PLATFORM}:{body['channel']['id']}"
        reply = await self.bot.click(user, channel, str(action.get("value", "")))
        await self.send(channel, reply)
