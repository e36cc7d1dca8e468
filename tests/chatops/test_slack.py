"""Slack adapter against Slack's real payloads and signatures, with a local Web API and Socket Mode.

Inbound requests are signed as Slack signs them (``v0=`` HMAC-SHA256 of ``v0:{ts}:{body}``); forged
signatures, stale timestamps and replays are refused; button clicks are re-authorized.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import SecretStr

from kubeprobe.chatops.adapters.slack import SlackAdapter, SlackSettings
from kubeprobe.kube.waiting import wait_for

from .conftest import Rig
from .fakes import FakeService

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@dataclass
class Slack:
    adapter: SlackAdapter
    api: FakeService

    def posted(self) -> list[str]:
        return [c.body["text"] for c in self.api.on("/api/chat.postMessage")]

    async def request(
        self,
        body: str,
        *,
        ts: int | None = None,
        secret: str = SECRET,
        content_type: str = "application/json",
    ) -> tuple[int, str]:
        stamp = str(ts if ts is not None else int(time.time()))
        mac = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
        headers = {
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": f"v0={mac}",
            "Content-Type": content_type,
        }
        status, _, text = await self.adapter.handle_http(body.encode(), headers)
        return status, text


def mention(user: str, text: str) -> str:
    event = {
        "type": "app_mention",
        "user": user,
        "text": f"<@UBOT> {text}",
        "ts": f"{time.time():.6f}",
        "channel": "ops",
        "event_ts": f"{time.time():.6f}",
    }
    return json.dumps(
        {
            "token": "x",
            "team_id": "T1",
            "api_app_id": "A1",
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{uuid.uuid4().hex[:10]}",
            "event_time": int(time.time()),
        }
    )


def command(user: str, text: str) -> str:
    return urlencode(
        {
            "token": "x",
            "team_id": "T1",
            "team_domain": "acme",
            "channel_id": "ops",
            "channel_name": "ops",
            "user_id": user,
            "user_name": user,
            "command": "/kp",
            "text": text,
            "api_app_id": "A1",
            "response_url": "https://hooks.slack.com/commands/T1/1/x",
            "trigger_id": uuid.uuid4().hex,
        }
    )


def click(user: str, value: str) -> str:
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user, "team_id": "T1"},
        "api_app_id": "A1",
        "token": "x",
        "container": {"type": "message", "channel_id": "ops"},
        "trigger_id": uuid.uuid4().hex,
        "team": {"id": "T1"},
        "channel": {"id": "ops", "name": "ops"},
        "message": {"ts": "1.2", "text": "x"},
        "response_url": "https://hooks.slack.com/actions/T1/1/x",
        "actions": [
            {
                "action_id": "kp-0",
                "block_id": "b",
                "type": "button",
                "value": value,
                "action_ts": f"{time.time():.6f}",
                "text": {"type": "plain_text", "text": "Confirm"},
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def _web_api(body: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "channel": body.get("channel"), "ts": f"{time.time():.6f}", "message": {}}


@pytest.fixture
async def slack(rig: Rig) -> AsyncIterator[Slack]:
    auth = {
        "ok": True,
        "url": "https://acme.slack.com/",
        "team": "acme",
        "user": "kp",
        "team_id": "T1",
        "user_id": "UBOT",
        "bot_id": "BBOT",
    }
    api = await FakeService(
        {"/api/auth.test": lambda _: auth, "/api/chat.postMessage": _web_api, "/api/chat.update": _web_api}
    ).start()
    settings = SlackSettings(
        bot_token=SecretStr("xoxb-test"),
        signing_secret=SecretStr(SECRET),
        app_token=SecretStr("xapp-test"),
        api_url=f"{api.url}/api/",
    )
    adapter = SlackAdapter(settings)
    adapter.bot = rig.bot_on(adapter)
    yield Slack(adapter, api)
    await adapter.bot.aclose()
    await api.stop()


async def test_mentions_commands_and_buttons_with_signatures(slack: Slack) -> None:
    assert await slack.request(mention("alice", "how is sandbox doing?")) == (200, "")
    assert slack.posted()[-1].startswith("sandbox: ")
    status, _ = await slack.request(
        command("alice", "rerun pod-lifecycle sandbox"), content_type="application/x-www-form-urlencoded"
    )
    assert status == 200
    assert slack.posted()[-1].startswith("Started pod-lifecycle on sandbox")
    await slack.request(mention("alice", "please rerun node-probe on sandbox"))
    ask = slack.api.on("/api/chat.postMessage")[-1].body
    buttons = (
        json.loads(ask["blocks"])[1]["elements"]
        if isinstance(ask["blocks"], str)
        else ask["blocks"][1]["elements"]
    )
    assert [b["text"]["text"] for b in buttons] == ["Confirm", "Cancel"]
    form = "application/x-www-form-urlencoded"
    await slack.request(click("bob", buttons[0]["value"]), content_type=form)
    assert "only the person who asked" in slack.posted()[-1]
    await slack.request(click("alice", buttons[0]["value"]), content_type=form)
    assert slack.posted()[-1].startswith("Started node-probe on sandbox")
    await slack.request(click("victor", "ack:1"), content_type=form)
    assert "your role viewer may not ack" in slack.posted()[-1]


async def test_forged_stale_and_replayed_requests_are_refused(slack: Slack) -> None:
    body = mention("alice", "/kp rerun pod-lifecycle sandbox")
    assert await slack.request(body, secret="not-the-secret") == (401, "invalid signature or stale timestamp")
    assert await slack.request(body, ts=int(time.time()) - 600) == (
        401,
        "invalid signature or stale timestamp",
    )
    assert slack.posted() == []
    stamp = int(time.time())
    assert (await slack.request(body, ts=stamp))[0] == 200
    assert await slack.request(body, ts=stamp) == (401, "replayed request")
    assert len(slack.posted()) == 1


async def test_socket_mode_frames(slack: Slack) -> None:
    slack.api.routes["/api/apps.connections.open"] = lambda _: {
        "ok": True,
        "url": slack.api.url.replace("http", "ws") + "/ws",
    }
    handler = await slack.adapter.socket_mode()
    await slack.api.push.put(
        {
            "type": "hello",
            "num_connections": 1,
            "debug_info": {"host": "local"},
            "connection_info": {"app_id": "A1"},
        }
    )
    await handler.connect_async()
    try:
        envelope = str(uuid.uuid4())
        await slack.api.push.put(
            {
                "envelope_id": envelope,
                "type": "events_api",
                "accepts_response_payload": False,
                "payload": json.loads(mention("alice", "/kp status")),
            }
        )
        ack = await wait_for(slack.api.received.get, lambda _: True, timeout=30, what="the envelope's ack")
        assert ack["envelope_id"] == envelope

        async def posted() -> list[str]:
            return slack.posted()

        await wait_for(posted, lambda texts: any(t.startswith("sandbox: ") for t in texts), timeout=30)
    finally:
        await handler.close_async()
