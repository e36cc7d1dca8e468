"""Matrix adapter (matrix-nio): rooms are channels, reactions are buttons, edits are ``m.replace``.

The bot logs in (password or access token, from the environment or a file), joins rooms it is
invited to, and syncs. A text message goes to :meth:`Bot.handle`. A message with buttons gets the
buttons' emoji as the bot's own reactions, so a user only has to click one: the user's reaction
(``m.reaction`` annotation) on that message, or a reply to it saying the button's name ("ack",
"confirm"), becomes :meth:`Bot.click` with that user, checked again like any command. An
incident's message is edited in place with an ``m.replace`` event. Events are handled once by
event id (a resumed sync may deliver them again) and only those sent after the bot started.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    InviteMemberEvent,
    LoginResponse,
    MatrixRoom,
    ReactionEvent,
    RoomMessageText,
    RoomSendResponse,
)
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from kubeprobe.chatops.bot import Bot
from kubeprobe.chatops.messages import ChatUser, Inbound, Reply

log = logging.getLogger(__name__)
PLATFORM = "matrix"


class MatrixError(RuntimeError):
    """Login, join or send failed; the message has the server's answer."""


class MatrixSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KUBEPROBE_CHATOPS_MATRIX_", extra="ignore")

    homeserver: str = Field(default="http://127.0.0.1:8008", description="the homeserver's client API")
    user: str = Field(default="", description="the bot's user id, @kubeprobe:example.org")
    password: SecretStr | None = None
    password_file: Path | None = None
    access_token: SecretStr | None = None


def _content(reply: Reply) -> dict[str, Any]:
    text = reply.text
    if reply.buttons:
        text += "\n" + " · ".join(f"{b.emoji} {b.label}" for b in reply.buttons if b.emoji)
        text += "\n(react, or reply with the word)"
    formatted = html.escape(text).replace("\n", "<br>")
    return {
        "msgtype": "m.text",
        "body": text,
        "format": "org.matrix.custom.html",
        "formatted_body": formatted,
    }


class MatrixAdapter:
    """A :class:`ChatTransport` on one Matrix account, and the loop that feeds the bot."""

    def __init__(self, client: AsyncClient, bot: Bot | None = None) -> None:
        self.client = client
        self.bot = bot
        #: bot message id → {emoji or lower-case label: action}
        self.actions: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._started_ms = int(time.time() * 1000)

    @classmethod
    async def login(cls, settings: MatrixSettings) -> MatrixAdapter:
        client = AsyncClient(settings.homeserver, settings.user)
        if settings.access_token is not None:
            client.access_token = settings.access_token.get_secret_value()
            client.user_id = settings.user
        else:
            secret = settings.password.get_secret_value() if settings.password else None
            if secret is None and settings.password_file is not None:
                secret = settings.password_file.read_text().strip()
            if not secret:
                raise MatrixError("set KUBEPROBE_CHATOPS_MATRIX_PASSWORD(_FILE) or _ACCESS_TOKEN")
            resp = await client.login(secret, device_name="kubeprobe-chatops")
            if not isinstance(resp, LoginResponse):
                await client.close()
                raise MatrixError(f"login as {settings.user} failed: {resp}")
        return cls(client)

    # --- ChatTransport ----------------------------------------------------------------------------

    async def send(self, channel: str, reply: Reply) -> str:
        room = channel.removeprefix(f"{PLATFORM}:")
        resp = await self.client.room_send(room, "m.room.message", _content(reply))
        if not isinstance(resp, RoomSendResponse):
            raise MatrixError(f"send to {room} failed: {resp}")
        await self._offer(room, resp.event_id, reply)
        return str(resp.event_id)

    async def edit(self, channel: str, message_id: str, reply: Reply) -> None:
        room = channel.removeprefix(f"{PLATFORM}:")
        new = _content(reply)
        content = {
            **new,
            "body": f"* {new['body']}",
            "m.new_content": new,
            "m.relates_to": {"rel_type": "m.replace", "event_id": message_id},
        }
        resp = await self.client.room_send(room, "m.room.message", content)
        if not isinstance(resp, RoomSendResponse):
            raise MatrixError(f"edit in {room} failed: {resp}")
        if reply.buttons:
            self._remember(message_id, reply)
        else:
            self.actions.pop(message_id, None)  # a resolved incident: its buttons do nothing any more

    async def _offer(self, room: str, event_id: str, reply: Reply) -> None:
        if not reply.buttons:
            return
        self._remember(event_id, reply)
        for button in reply.buttons:
            if button.emoji:
                relates = {"rel_type": "m.annotation", "event_id": event_id, "key": button.emoji}
                await self.client.room_send(room, "m.reaction", {"m.relates_to": relates})

    def _remember(self, event_id: str, reply: Reply) -> None:
        table: dict[str, str] = {}
        for button in reply.buttons:
            table[button.label.lower()] = button.action
            table[button.label.lower().split()[0]] = button.action
            if button.emoji:
                table[button.emoji] = button.action
        self.actions[event_id] = table
        while len(self.actions) > 5000:
            self.actions.popitem(last=False)

    # --- events -------------------------------------------------------------------------------------

    def _first_time(self, event_id: str, server_ms: int) -> bool:
        if event_id in self._seen or server_ms < self._started_ms:
            return False
        self._seen[event_id] = None
        while len(self._seen) > 10000:
            self._seen.popitem(last=False)
        return True

    async def on_message(self, room: MatrixRoom, event: RoomMessageText) -> None:
        if self.bot is None or event.sender == self.client.user_id:
            return
        if not self._first_time(event.event_id, event.server_timestamp):
            return
        channel = f"{PLATFORM}:{room.room_id}"
        user = ChatUser(PLATFORM, event.sender, room.user_name(event.sender) or "")
        relates = event.source.get("content", {}).get("m.relates_to", {})
        if relates.get("rel_type") == "m.replace":
            return  # an edit of an older message is not a new command
        target = relates.get("m.in_reply_to", {}).get("event_id")
        body = _strip_reply_fallback(event.body)
        action = self.actions.get(target, {}).get(body.strip().lower().rstrip("!.")) if target else None
        if action is not None:
            reply = await self.bot.click(user, channel, action)
        else:
            answer = await self.bot.handle(Inbound(user, channel, body))
            if answer is None:
                return
            reply = answer
        await self.send(channel, reply)

    async def on_reaction(self, room: MatrixRoom, event: ReactionEvent) -> None:
        if self.bot is None or event.sender == self.client.user_id:
            return
        if not self._first_time(event.event_id, event.server_timestamp):
            return
        action = self.actions.get(event.reacts_to, {}).get(event.key)
        if action is None:
            return
        channel = f"{PLATFORM}:{room.room_id}"
        user = ChatUser(PLATFORM, event.sender, room.user_name(event.sender) or "")
        await self.send(channel, await self.bot.click(user, channel, action))

    async def on_invite(self, room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key == self.client.user_id and event.membership == "invite":
            await self.client.join(room.room_id)

    async def run(self) -> None:
        """Sync forever (cancel to stop); callbacks run one at a time, in order."""
        self.client.add_event_callback(self._guard(self.on_message), RoomMessageText)
        self.client.add_event_callback(self._guard(self.on_reaction), ReactionEvent)
        self.client.add_event_callback(self._guard(self.on_invite), InviteMemberEvent)
        await self.client.sync_forever(timeout=10000, full_state=True)

    @staticmethod
    def _guard(handler: Any) -> Any:
        async def call(room: MatrixRoom, event: Any) -> None:
            try:
                await handler(room, event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("chatops matrix: handling %s in %s", type(event).__name__, room.room_id)

        return call

    async def aclose(self) -> None:
        await self.client.close()


def _strip_reply_fallback(body: str) -> str:
    """A reply's body starts with quoted lines ("> <@bob> ...") and a blank line; drop them."""
    lines = body.splitlines()
    while lines and lines[0].startswith(">"):
        lines.pop(0)
    return "\n".join(lines).strip()
