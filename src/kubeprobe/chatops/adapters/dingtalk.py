"""DingTalk adapter: robot messages by HTTP callback or Stream mode (the official SDK), cards with buttons.

HTTP callback: DingTalk POSTs the robot message with headers ``timestamp`` (ms) and ``sign`` =
base64(HMAC-SHA256(app secret, ``timestamp + "\\n" + app secret``)); a wrong sign is forged, a
timestamp more than an hour off is stale, a ``msgId`` seen before is a replay. Stream mode: the SDK
(``dingtalk-stream``) opens the connection with the app's credentials and delivers the same message as
a ``CALLBACK`` frame on topic ``/v1.0/im/bot/messages/get``, acknowledged per ``messageId``; card
button clicks arrive on ``/v1.0/card/instances/callback``. Answers go to the message's
``sessionWebhook``. Buttons: an ``actionCard`` whose buttons send ``/kp do ACTION`` into the chat
(``dtmd://dingtalkclient/sendMessage``) as the clicking user, so a click comes back as a signed
message from that user and is checked again; interactive cards (incident messages, edited in place
through the card API) carry the action in the button's params.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import websockets
from dingtalk_stream import AckMessage, CallbackHandler, CallbackMessage, Credential, DingTalkStreamClient
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from kubeprobe.chatops.adapters.replay import Seen
from kubeprobe.chatops.bot import Bot
from kubeprobe.chatops.messages import ChatUser, Inbound, Reply

PLATFORM = "dingtalk"
WINDOW_MS = 3600 * 1000
BOT_TOPIC = "/v1.0/im/bot/messages/get"
CARD_TOPIC = "/v1.0/card/instances/callback"
CLICK_PREFIX = "/kp do "


class DingTalkSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KUBEPROBE_CHATOPS_DINGTALK_", extra="ignore")

    app_key: str = Field(description="the app's AppKey (Client ID)")
    app_secret: SecretStr = Field(description="the app's AppSecret: signs callbacks, opens the stream")
    robot_code: str = Field(default="", description="the robot's code (card messages)")
    api_url: str = Field(default="https://api.dingtalk.com", description="DingTalk's OpenAPI")


def sign(secret: str, timestamp: str) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def action_card(reply: Reply) -> dict[str, Any]:
    """Markdown, or an actionCard whose buttons type ``/kp do ACTION`` as the clicking user."""
    if not reply.buttons:
        return {"msgtype": "markdown", "markdown": {"title": reply.text[:40], "text": reply.text}}
    btns = [
        {
            "title": b.label,
            "actionURL": "dtmd://dingtalkclient/sendMessage?content=" + quote(CLICK_PREFIX + b.action),
        }
        for b in reply.buttons
    ]
    card = {"title": reply.text[:40], "text": reply.text, "btnOrientation": "1", "btns": btns}
    return {"msgtype": "actionCard", "actionCard": card}


class DingTalkAdapter:
    def __init__(self, settings: DingTalkSettings, bot: Bot | None = None) -> None:
        self.settings = settings
        self.bot = bot
        self.http = httpx.AsyncClient(timeout=30)
        self.seen = Seen(window=2 * WINDOW_MS / 1000)
        self._token: tuple[str, float] | None = None
        #: card id → channel (card button clicks name only the card)
        self.cards: dict[str, str] = {}

    async def aclose(self) -> None:
        await self.http.aclose()

    # --- inbound --------------------------------------------------------------------------------------

    def verify(self, headers: Mapping[str, str], now_ms: int | None = None) -> str | None:
        """Why a callback is refused, or None when its signature and timestamp are good."""
        lower = {k.lower(): v for k, v in headers.items()}
        stamp, given = lower.get("timestamp", ""), lower.get("sign", "")
        if not stamp.isdigit():
            return "missing timestamp"
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        if abs(now_ms - int(stamp)) > WINDOW_MS:
            return "stale timestamp"
        if not hmac.compare_digest(
            given.encode(), sign(self.settings.app_secret.get_secret_value(), stamp).encode()
        ):
            return "invalid signature"
        return None

    async def handle_callback(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        """The robot's HTTP callback: status and JSON (the answer goes to the session webhook)."""
        refused = self.verify(headers)
        if refused:
            return 401, {"error": refused}
        try:
            message = json.loads(body)
        except ValueError:
            return 400, {"error": "not JSON"}
        return await self.on_message(message)

    async def on_message(self, message: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not message.get("msgId") or not self.seen.first(f"msg/{message['msgId']}"):
            return 409, {"error": "replayed message"}
        if self.bot is None:
            return 503, {"error": "not ready"}
        text = str(message.get("text", {}).get("content", "")).strip()
        user = ChatUser(PLATFORM, str(message.get("senderStaffId") or message.get("senderId", "")),
                        str(message.get("senderNick", "")))  # fmt: skip
        channel = f"{PLATFORM}:{message.get('conversationId', '')}"
        if text.startswith(CLICK_PREFIX):
            reply: Reply | None = await self.bot.click(user, channel, text[len(CLICK_PREFIX) :].strip())
        else:
            reply = await self.bot.handle(Inbound(user, channel, text))
        if reply is not None and message.get("sessionWebhook"):
            await self.http.post(str(message["sessionWebhook"]), json=action_card(reply))
        return 200, {}

    async def on_card(self, data: dict[str, Any]) -> tuple[int, str]:
        """A card button click from the stream: ``value.cardPrivateData.params.action`` by ``userId``."""
        try:
            value = json.loads(data["value"]) if isinstance(data.get("value"), str) else data.get("value", {})
            action = str(value["cardPrivateData"]["params"]["action"])
            channel = self.cards[str(data["outTrackId"])]
        except (KeyError, TypeError, ValueError):
            return AckMessage.STATUS_BAD_REQUEST, "unknown card or action"
        if self.bot is None:
            return AckMessage.STATUS_SYSTEM_EXCEPTION, "not ready"
        reply = await self.bot.click(ChatUser(PLATFORM, str(data.get("userId", ""))), channel, action)
        await self.send(channel, reply)
        return AckMessage.STATUS_OK, "OK"

    def stream_client(self) -> DingTalkStreamClient:
        """The official SDK's Stream client with our handlers for robot messages and card clicks."""
        adapter = self

        class Messages(CallbackHandler):  # type: ignore[misc]
            async def process(self, callback: CallbackMessage) -> tuple[int, str]:
                status, answer = await adapter.on_message(dict(callback.data))
                return (AckMessage.STATUS_OK, "OK") if status in (200, 409) else (status, json.dumps(answer))

        class Cards(CallbackHandler):  # type: ignore[misc]
            async def process(self, callback: CallbackMessage) -> tuple[int, str]:
                return await adapter.on_card(dict(callback.data))

        client = _StreamClient(
            Credential(self.settings.app_key, self.settings.app_secret.get_secret_value()),
            self.settings.api_url,
        )
        client.register_callback_handler(BOT_TOPIC, Messages())
        client.register_callback_handler(CARD_TOPIC, Cards())
        return client

    # --- ChatTransport: interactive cards ---------------------------------------------------------------

    async def _access_token(self) -> str:
        if self._token and self._token[1] > time.time() + 60:
            return self._token[0]
        body = {"appKey": self.settings.app_key, "appSecret": self.settings.app_secret.get_secret_value()}
        resp = await self.http.post(f"{self.settings.api_url}/v1.0/oauth2/accessToken", json=body)
        resp.raise_for_status()
        data = resp.json()
        self._token = (str(data["accessToken"]), time.time() + float(data.get("expireIn", 7200)))
        return self._token[0]

    def _card_data(self, reply: Reply) -> str:
        buttons = [
            {"text": b.label, "id": f"kp{i}", "params": {"action": b.action}}
            for i, b in enumerate(reply.buttons)
        ]
        card = {
            "config": {"autoLayout": True},
            "contents": [{"type": "markdown", "text": reply.text}],
            "actions": buttons,
        }
        return json.dumps(card, ensure_ascii=False)

    async def send(self, channel: str, reply: Reply) -> str:
        card_id = uuid.uuid4().hex
        self.cards[card_id] = channel
        body = {
            "cardTemplateId": "StandardCard",
            "openConversationId": channel.removeprefix(f"{PLATFORM}:"),
            "cardBizId": card_id,
            "robotCode": self.settings.robot_code,
            "cardData": self._card_data(reply),
            "callbackRouteKey": "kubeprobe-chatops",
        }
        resp = await self.http.post(
            f"{self.settings.api_url}/v1.0/im/v1.0/robot/interactiveCards/send",
            json=body,
            headers={"x-acs-dingtalk-access-token": await self._access_token()},
        )
        resp.raise_for_status()
        return card_id

    async def edit(self, channel: str, message_id: str, reply: Reply) -> None:
        resp = await self.http.put(
            f"{self.settings.api_url}/v1.0/im/robots/interactiveCards",
            json={"cardBizId": message_id, "cardData": self._card_data(reply)},
            headers={"x-acs-dingtalk-access-token": await self._access_token()},
        )
        resp.raise_for_status()


class _StreamClient(DingTalkStreamClient):  # type: ignore[misc]
    """The SDK's client with its connection opened at ``api_url`` without blocking the event loop (the
    SDK posts with ``requests`` from inside its loop, to a hard-coded address); frames are still
    routed and acknowledged by the SDK's own ``route_message``."""

    def __init__(self, credential: Credential, api_url: str) -> None:
        super().__init__(credential)
        self.api_url = api_url
        self._frames: set[asyncio.Task[None]] = set()

    async def _open(self) -> dict[str, Any] | None:
        body = {
            "clientId": self.credential.client_id,
            "clientSecret": self.credential.client_secret,
            "subscriptions": [{"type": "CALLBACK", "topic": t} for t in self.callback_handler_map],
            "ua": "kubeprobe-chatops",
            "localIp": "127.0.0.1",
        }
        try:
            async with httpx.AsyncClient(timeout=30) as http:
                resp = await http.post(f"{self.api_url}/v1.0/gateway/connections/open", json=body)
            resp.raise_for_status()
            return dict(resp.json())
        except httpx.HTTPError as exc:
            self.logger.error("open connection failed: %s", exc)
            return None

    async def start(self) -> None:
        """Connect, route frames, reconnect after a pause when the connection drops (cancel to stop)."""
        self.pre_start()
        while True:
            connection = await self._open()
            if connection is not None:
                uri = f"{connection['endpoint']}?ticket={quote_plus(str(connection['ticket']))}"
                try:
                    async with websockets.connect(uri) as ws:
                        self.websocket = ws
                        async for raw in ws:
                            task = asyncio.create_task(self.background_task(json.loads(raw)))
                            self._frames.add(task)
                            task.add_done_callback(self._frames.discard)
                except (OSError, websockets.exceptions.WebSocketException) as exc:
                    self.logger.warning("stream connection lost: %s", exc)
            await asyncio.sleep(3)
