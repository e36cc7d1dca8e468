"""Mattermost adapter with Mattermost's real slash-command and interactive-action payloads, and a
local REST API for posts: the command token, signed button contexts, stale and replayed clicks."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import SecretStr

from kubeprobe.chatops.adapters.mattermost import MattermostAdapter, MattermostSettings
from kubeprobe.chatops.messages import Button, Reply

from .conftest import Rig
from .fakes import FakeService

TOKEN = "xbg1sbq8k3ro8aeeji6mcezjmr"


@dataclass
class Mattermost:
    adapter: MattermostAdapter
    api: FakeService

    async def command(self, user: str, text: str, token: str = TOKEN) -> tuple[int, dict[str, Any]]:
        form = {
            "channel_id": "ops",
            "channel_name": "ops",
            "command": "/kp",
            "response_url": "http://x/hooks/commands/1",
            "team_domain": "acme",
            "team_id": "t1",
            "text": text,
            "token": token,
            "trigger_id": uuid.uuid4().hex,
            "user_id": user,
            "user_name": user,
        }
        return await self.adapter.handle_command(urlencode(form).encode())

    async def click(
        self, user: str, context: dict[str, Any], trigger: str | None = None, channel: str = "ops"
    ) -> tuple[int, dict[str, Any]]:
        payload = {
            "user_id": user,
            "user_name": user,
            "channel_id": channel,
            "channel_name": "ops",
            "team_id": "t1",
            "team_domain": "acme",
            "post_id": "p1",
            "trigger_id": trigger or uuid.uuid4().hex,
            "type": "",
            "data_source": "",
            "context": context,
        }
        return await self.adapter.handle_action(json.dumps(payload).encode())


def _post(body: dict[str, Any]) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex[:26], "channel_id": body.get("channel_id"), "message": body.get("message")}


@pytest.fixture
async def mm(rig: Rig) -> AsyncIterator[Mattermost]:
    api = await FakeService({"/api/v4/posts": _post}).start()
    settings = MattermostSettings(
        url=api.url,
        bot_token=SecretStr("bot"),
        command_token=SecretStr(TOKEN),
        action_secret=SecretStr("s3cret"),
        callback_url="http://bot/mattermost/actions",
    )
    adapter = MattermostAdapter(settings)
    adapter.bot = rig.bot_on(adapter)
    yield Mattermost(adapter, api)
    await adapter.bot.aclose()
    await adapter.aclose()
    await api.stop()


def contexts(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return [a["integration"]["context"] for a in answer["attachments"][0]["actions"]]


async def test_slash_command_and_buttons(mm: Mattermost) -> None:
    status, answer = await mm.command("alice", "status")
    assert status == 200
    assert answer["response_type"] == "in_channel"
    assert answer["text"].startswith("sandbox: ")
    status, answer = await mm.command("alice", "rerun node-probe sandbox")
    assert answer["text"].startswith("Started node-probe on sandbox")
    _, answer = await mm.command("victor", "rerun node-probe sandbox")
    assert "your role viewer may not rerun" in answer["text"]
    # a button (as the incident threads would post it): the viewer's click is re-checked and refused
    ack = mm.adapter.attachments(Reply("x", [Button("Ack", "ack:1", "✅")], incident=1), "ops")[0]["actions"][
        0
    ]
    status, answer = await mm.click("victor", ack["integration"]["context"])
    assert status == 200
    assert "your role viewer may not ack" in answer["ephemeral_text"]
    assert mm.api.on("/api/v4/posts")[-1].body["message"] == answer["ephemeral_text"]


async def test_wrong_token_forged_stale_and_replayed_clicks_are_refused(mm: Mattermost) -> None:
    assert await mm.command("alice", "status", token="guess") == (401, {"text": "invalid command token"})
    ask = {"action": "ack:1", "channel": "ops", "expires": int(time.time()) + 60}
    forged = {**ask, "sig": "0" * 64}
    assert (await mm.click("alice", forged))[0] == 401
    good = mm.adapter.attachments(Reply("x", [Button("Ack", "ack:1")], incident=1), "ops")[0]["actions"][0]
    context = good["integration"]["context"]
    assert await mm.click("alice", {**context, "action": "ack:2"}) == (
        401,
        {"ephemeral_text": "forged action"},
    )
    assert (await mm.click("alice", context, channel="elsewhere"))[0] == 401
    stale = {**context, "expires": int(time.time()) - 1}
    stale["sig"] = mm.adapter._mac("ack:1", "ops", stale["expires"])
    assert await mm.click("alice", stale) == (401, {"ephemeral_text": "this button has expired"})
    trigger = uuid.uuid4().hex
    status, answer = await mm.click("alice", context, trigger)
    assert status == 200
    assert "not found" in answer["ephemeral_text"]  # incident 1 does not exist: the center says so
    assert await mm.click("alice", context, trigger) == (401, {"ephemeral_text": "replayed request"})


async def test_confirmation_flow_over_buttons(mm: Mattermost) -> None:
    _, answer = await mm.command("alice", "rerun pod-lifecycle on sandbox")
    assert "`/kp rerun pod-lifecycle sandbox`" in answer["text"]
    confirm, _cancel = contexts(answer)
    assert "only the person who asked" in (await mm.click("bob", confirm))[1]["ephemeral_text"]
    assert (await mm.click("alice", confirm))[1]["ephemeral_text"].startswith(
        "Started pod-lifecycle on sandbox"
    )
