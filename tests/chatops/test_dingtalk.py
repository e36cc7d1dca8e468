"""DingTalk adapter with DingTalk's real robot callback (signed ``timestamp`` + ``sign`` headers), the
official Stream SDK against a local gateway speaking its frames, and cards through a local OpenAPI."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import pytest
from pydantic import SecretStr

from kubeprobe.chatops.adapters.dingtalk import BOT_TOPIC, CARD_TOPIC, DingTalkAdapter, DingTalkSettings, sign
from kubeprobe.chatops.messages import Button, Reply
from kubeprobe.kube.waiting import wait_for

from .conftest import Rig
from .fakes import FakeService

SECRET = "gQ7x-demo-app-secret"


@dataclass
class DingTalk:
    adapter: DingTalkAdapter
    api: FakeService

    def message(self, user: str, text: str) -> dict[str, Any]:
        return {
            "conversationId": "ops",
            "atUsers": [{"dingtalkId": "$:LWCP_v1:$bot"}],
            "chatbotCorpId": "ding1",
            "chatbotUserId": "$:LWCP_v1:$bot",
            "msgId": f"msg{uuid.uuid4().hex}",
            "senderNick": user.title(),
            "isAdmin": False,
            "senderStaffId": user,
            "sessionWebhookExpiredTime": int(time.time() * 1000) + 3600_000,
            "createAt": int(time.time() * 1000),
            "senderCorpId": "ding1",
            "conversationType": "2",
            "senderId": f"$:LWCP_v1:${user}",
            "conversationTitle": "ops",
            "isInAtList": True,
            "sessionWebhook": f"{self.api.url}/robot/sendBySession?session=abc",
            "text": {"content": f" {text}"},
            "robotCode": "dingrobot",
            "msgtype": "text",
        }

    async def callback(
        self, message: dict[str, Any], *, stamp: int | None = None, secret: str = SECRET
    ) -> tuple[int, dict[str, Any]]:
        ts = str(stamp if stamp is not None else int(time.time() * 1000))
        headers = {"timestamp": ts, "sign": sign(secret, ts), "Content-Type": "application/json"}
        return await self.adapter.handle_callback(json.dumps(message).encode(), headers)

    def answers(self) -> list[dict[str, Any]]:
        return [c.body for c in self.api.on("/robot/sendBySession")]

    def texts(self) -> list[str]:
        out = []
        for a in self.answers():
            out.append(a.get("markdown", a.get("actionCard", {})).get("text", ""))
        return out


@pytest.fixture
async def ding(rig: Rig) -> AsyncIterator[DingTalk]:
    api = await FakeService(
        {
            "/robot/sendBySession": lambda _: {"errcode": 0, "errmsg": "ok"},
            "/v1.0/oauth2/accessToken": lambda _: {"accessToken": "at-1", "expireIn": 7200},
            "/v1.0/im/v1.0/robot/interactiveCards/send": lambda _: {"processQueryKey": "q1"},
            "/v1.0/im/robots/interactiveCards": lambda _: {"success": True},
        }
    ).start()
    settings = DingTalkSettings(
        app_key="dingapp", app_secret=SecretStr(SECRET), robot_code="dingrobot", api_url=api.url
    )
    adapter = DingTalkAdapter(settings)
    adapter.bot = rig.bot_on(adapter)
    yield DingTalk(adapter, api)
    await adapter.bot.aclose()
    await adapter.aclose()
    await api.stop()


async def test_signed_callbacks_and_buttons_that_speak_as_the_clicking_user(ding: DingTalk) -> None:
    assert await ding.callback(ding.message("alice", "sandbox 状态怎么样")) == (200, {})
    assert ding.texts()[-1].startswith("sandbox: ")
    await ding.callback(ding.message("alice", "在 sandbox 上重新跑一下 pod-lifecycle"))
    card = ding.answers()[-1]["actionCard"]
    assert "`/kp rerun pod-lifecycle sandbox`" in card["text"]
    confirm = unquote(card["btns"][0]["actionURL"].split("content=", 1)[1])
    assert confirm.startswith("/kp do confirm:")
    await ding.callback(ding.message("bob", confirm))
    assert "only the person who asked" in ding.texts()[-1]
    await ding.callback(ding.message("alice", confirm))
    assert ding.texts()[-1].startswith("Started pod-lifecycle on sandbox")
    await ding.callback(ding.message("victor", "/kp do ack:3"))
    assert "your role viewer may not ack" in ding.texts()[-1]


async def test_forged_stale_and_replayed_callbacks_are_refused(ding: DingTalk) -> None:
    message = ding.message("alice", "/kp rerun pod-lifecycle sandbox")
    assert await ding.callback(message, secret="guess") == (401, {"error": "invalid signature"})
    two_hours_ago = int(time.time() * 1000) - 2 * 3600_000
    assert await ding.callback(message, stamp=two_hours_ago) == (401, {"error": "stale timestamp"})
    assert ding.answers() == []
    assert await ding.callback(message) == (200, {})
    assert await ding.callback(message) == (409, {"error": "replayed message"})
    assert len(ding.answers()) == 1


async def test_stream_mode_frames_and_card_clicks(ding: DingTalk) -> None:
    ding.api.routes["/v1.0/gateway/connections/open"] = lambda _: {
        "endpoint": ding.api.url.replace("http", "ws") + "/ws",
        "ticket": "ticket-1",
    }
    client = ding.adapter.stream_client()
    task = asyncio.create_task(client.start())
    try:
        frame = {
            "specVersion": "1.0",
            "type": "CALLBACK",
            "headers": {
                "appId": "app",
                "connectionId": "conn",
                "contentType": "application/json",
                "messageId": "frame-1",
                "time": str(int(time.time() * 1000)),
                "topic": BOT_TOPIC,
            },
            "data": json.dumps(ding.message("alice", "/kp status")),
        }
        await ding.api.push.put(frame)
        ack = await wait_for(ding.api.received.get, lambda _: True, timeout=30, what="the frame's ack")
        assert ack["code"] == 200
        assert ack["headers"]["messageId"] == "frame-1"
        assert ding.texts()[-1].startswith("sandbox: ")
        opened = ding.api.on("/v1.0/gateway/connections/open")[0].body
        assert opened["clientId"] == "dingapp"
        assert {"type": "CALLBACK", "topic": CARD_TOPIC} in opened["subscriptions"]
        # an incident card (interactive card API) and a click on its Ack button by the viewer
        card_id = await ding.adapter.send(
            "dingtalk:ops", Reply("Incident #3", [Button("Ack", "ack:3")], incident=3)
        )
        sent = ding.api.on("/v1.0/im/v1.0/robot/interactiveCards/send")[0]
        assert sent.headers["x-acs-dingtalk-access-token"] == "at-1"
        assert sent.body["openConversationId"] == "ops"
        value = json.dumps({"cardPrivateData": {"actionIds": ["kp0"], "params": {"action": "ack:3"}}})
        click = {
            "specVersion": "1.0",
            "type": "CALLBACK",
            "headers": {"messageId": "frame-2", "topic": CARD_TOPIC, "contentType": "application/json"},
            "data": json.dumps(
                {"outTrackId": card_id, "userId": "victor", "corpId": "ding1", "value": value}
            ),
        }
        await ding.api.push.put(click)
        ack = await wait_for(ding.api.received.get, lambda _: True, timeout=30, what="the click's ack")
        assert ack["headers"]["messageId"] == "frame-2"
        assert ack["code"] == 200
        replies = ding.api.on("/v1.0/im/v1.0/robot/interactiveCards/send")
        assert (
            "your role viewer may not ack" in json.loads(replies[-1].body["cardData"])["contents"][0]["text"]
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
