"""Mattermost adapter: the ``/kp`` slash command and interactive message buttons over HTTP.

Slash command: Mattermost POSTs a form (``token``, ``user_id``, ``user_name``, ``channel_id``,
``command``, ``text``, ``trigger_id`` ...); the ``token`` must equal the command's token (compared in
constant time). The answer is the HTTP response (``response_type: in_channel``, Slack-style
``attachments`` with buttons). Buttons: each action's ``integration.context`` carries the action, the
channel, an expiry and an HMAC-SHA256 over them with our own secret, because Mattermost signs
nothing: a click whose context does not verify is forged, one past its expiry is stale, and a
request whose ``trigger_id`` was seen is a replay. A verified click is still :meth:`Bot.click` as the
clicking user. Out (incident messages): the REST API, ``POST /api/v4/posts`` and
``PUT /api/v4/posts/{id}/patch`` with the bot account's token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import httpx
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from kubeprobe.chatops.adapters.replay import Seen
from kubeprobe.chatops.bot import Bot
from kubeprobe.chatops.messages import ChatUser, Inbound, Reply

PLATFORM = "mattermost"
CONFIRM_TTL = 300
INCIDENT_TTL = 7 * 86400


class MattermostSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KUBEPROBE_CHATOPS_MATTERMOST_", extra="ignore")

    url: str = Field(description="the Mattermost server, https://chat.example.org")
    bot_token: SecretStr = Field(description="the bot account's access token (posts and edits)")
    command_token: SecretStr = Field(description="the /kp slash command's token")
    action_secret: SecretStr = Field(description="our key for signing button contexts")
    callback_url: str = Field(description="where Mattermost sends button clicks: <bot>/mattermost/actions")


class MattermostAdapter:
    def __init__(self, settings: MattermostSettings, bot: Bot | None = None) -> None:
        self.settings = settings
        self.bot = bot
        self.http = httpx.AsyncClient(
            base_url=settings.url.rstrip("/"),
            headers={"Authorization": f"Bearer {settings.bot_token.get_secret_value()}"},
            timeout=30,
        )
        self.seen = Seen()

    async def aclose(self) -> None:
        await self.http.aclose()

    # --- signing button contexts -----------------------------------------------------------------

    def _mac(self, action: str, channel: str, expires: int) -> str:
        key = self.settings.action_secret.get_secret_value().encode()
        return hmac.new(key, f"{action}\n{channel}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def attachments(self, reply: Reply, channel_id: str) -> list[dict[str, Any]]:
        if not reply.buttons:
            return []
        expires = int(time.time()) + (INCIDENT_TTL if reply.incident is not None else CONFIRM_TTL)
        actions = []
        for i, b in enumerate(reply.buttons):
            context = {"action": b.action, "channel": channel_id, "expires": expires}
            context["sig"] = self._mac(b.action, channel_id, expires)
            actions.append(
                {
                    "id": f"kp{i}",
                    "name": b.label,
                    "type": "button",
                    "style": "danger" if b.danger else "default",
                    "integration": {"url": self.settings.callback_url, "context": context},
                }
            )
        return [{"fallback": reply.text[:200], "actions": actions}]

    # --- ChatTransport ---------------------------------------------------------------------------

    async def send(self, channel: str, reply: Reply) -> str:
        channel_id = channel.removeprefix(f"{PLATFORM}:")
        body = {
            "channel_id": channel_id,
            "message": reply.text,
            "props": {"attachments": self.attachments(reply, channel_id)},
        }
        resp = await self.http.post("/api/v4/posts", json=body)
        resp.raise_for_status()
        return str(resp.json()["id"])

    async def edit(self, channel: str, message_id: str, reply: Reply) -> None:
        channel_id = channel.removeprefix(f"{PLATFORM}:")
        body = {"message": reply.text, "props": {"attachments": self.attachments(reply, channel_id)}}
        resp = await self.http.put(f"/api/v4/posts/{message_id}/patch", json=body)
        resp.raise_for_status()

    # --- HTTP ------------------------------------------------------------------------------------

    async def handle_command(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """The slash command's POST (form-encoded): status and the JSON answer."""
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        expected = self.settings.command_token.get_secret_value()
        if not hmac.compare_digest(form.get("token", "").encode(), expected.encode()):
            return 401, {"text": "invalid command token"}
        if not self.seen.first(f"cmd/{form.get('trigger_id', '')}") or not form.get("trigger_id"):
            return 401, {"text": "replayed request"}
        if self.bot is None or form.get("command") != "/kp":
            return 400, {"text": "unknown command"}
        user = ChatUser(PLATFORM, form.get("user_id", ""), form.get("user_name", ""))
        channel_id = form.get("channel_id", "")
        reply = await self.bot.handle(
            Inbound(user, f"{PLATFORM}:{channel_id}", f"/kp {form.get('text', '')}".strip())
        )
        if reply is None:
            return 200, {"response_type": "ephemeral", "text": "nothing to do"}
        return 200, {
            "response_type": "in_channel",
            "text": reply.text,
            "attachments": self.attachments(reply, channel_id),
        }

    async def handle_action(
        self, body: bytes, headers: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """An interactive button's POST (JSON): status and the JSON answer (an update of the post)."""
        try:
            data = json.loads(body)
            context = data["context"]
            action, channel_id, expires, sig = (
                context["action"],
                context["channel"],
                int(context["expires"]),
                context["sig"],
            )
        except (ValueError, KeyError, TypeError):
            return 400, {"ephemeral_text": "malformed action"}
        if not hmac.compare_digest(str(sig), self._mac(str(action), str(channel_id), expires)):
            return 401, {"ephemeral_text": "forged action"}
        if channel_id != data.get("channel_id"):
            return 401, {"ephemeral_text": "action from another channel"}
        if expires < time.time():
            return 401, {"ephemeral_text": "this button has expired"}
        if not data.get("trigger_id") or not self.seen.first(f"act/{data['trigger_id']}"):
            return 401, {"ephemeral_text": "replayed request"}
        if self.bot is None:
            return 503, {"ephemeral_text": "not ready"}
        user = ChatUser(PLATFORM, str(data.get("user_id", "")), str(data.get("user_name", "")))
        channel = f"{PLATFORM}:{channel_id}"
        reply = await self.bot.click(user, channel, str(action))
        await self.send(channel, reply)
        return 200, {"ephemeral_text": reply.text[:500]}
