"""The callback endpoints in front of the adapters: routes, the body bound, and signatures checked."""

from __future__ import annotations

import httpx
import pytest

from kubeprobe.chatops.adapters.web import adapter_for, callback_app

from .test_dingtalk import DingTalk, ding  # noqa: F401 (fixture)
from .test_slack import Slack, mention, slack  # noqa: F401 (fixture)


def client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot")  # type: ignore[arg-type]


async def test_slack_route_verifies_and_bounds_bodies(slack: Slack) -> None:  # noqa: F811
    async with client(callback_app(slack.adapter)) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        resp = await http.post("/slack/events", content=mention("alice", "/kp status"))
        assert resp.status_code == 401  # unsigned
        assert (await http.post("/slack/events", content=b"x" * (2 << 20))).status_code == 413
        assert (await http.post("/dingtalk/callback", content=b"{}")).status_code == 404  # not this adapter
    assert slack.posted() == []


async def test_dingtalk_route(ding: DingTalk) -> None:  # noqa: F811
    async with client(callback_app(ding.adapter)) as http:
        resp = await http.post("/dingtalk/callback", json=ding.message("alice", "/kp status"))
        assert resp.status_code == 401
        assert resp.json() == {"error": "missing timestamp"}


def test_unknown_platform() -> None:
    with pytest.raises(ValueError, match="unknown platform 'irc'"):
        adapter_for("irc")
