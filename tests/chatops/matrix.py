"""A real Matrix homeserver for the tests: Synapse from scripts/synapse, users registered with its
shared secret, and a small client-server API client for the people in the tests (operator, viewer)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from kubeprobe.kube.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Synapse:
    url: str
    server_name: str
    secret: str


def start_synapse() -> Synapse:
    """KUBEPROBE_TEST_SYNAPSE (the JSON line scripts/synapse prints), else scripts/synapse now."""
    line = os.environ.get("KUBEPROBE_TEST_SYNAPSE")
    if not line:
        line = subprocess.run(
            ["bash", str(ROOT / "scripts" / "synapse")],
            check=True,
            capture_output=True,
            text=True,
            timeout=900,
        ).stdout.strip()
    info = json.loads(line)
    return Synapse(info["url"], info["server_name"], info["registration_shared_secret"])


async def register(syn: Synapse, name: str, password: str) -> dict[str, Any]:
    """A new user through Synapse's shared-secret registration (its admin API)."""
    async with httpx.AsyncClient(base_url=syn.url, timeout=30) as http:
        nonce = (await http.get("/_synapse/admin/v1/register")).json()["nonce"]
        mac = hmac.new(syn.secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), name.encode(), password.encode(), b"notadmin"]))
        body = {
            "nonce": nonce,
            "username": name,
            "password": password,
            "admin": False,
            "mac": mac.hexdigest(),
        }
        resp = await http.post("/_synapse/admin/v1/register", json=body)
        assert resp.status_code == 200, resp.text
        return dict(resp.json())


class Person:
    """A chat user in the tests, speaking the client-server API directly."""

    def __init__(self, syn: Synapse, user_id: str, token: str) -> None:
        self.user_id = user_id
        self.http = httpx.AsyncClient(
            base_url=syn.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    @classmethod
    async def new(cls, syn: Synapse, prefix: str) -> Person:
        made = await register(syn, f"{prefix}-{uuid.uuid4().hex[:6]}", "pw-" + uuid.uuid4().hex)
        return cls(syn, made["user_id"], made["access_token"])

    async def _put(self, room: str, kind: str, content: dict[str, Any]) -> str:
        path = f"/_matrix/client/v3/rooms/{quote(room)}/send/{kind}/{uuid.uuid4().hex}"
        resp = await self.http.put(path, json=content)
        assert resp.status_code == 200, resp.text
        return str(resp.json()["event_id"])

    async def create_room(self, invite: list[str]) -> str:
        resp = await self.http.post(
            "/_matrix/client/v3/createRoom", json={"invite": invite, "preset": "private_chat"}
        )
        assert resp.status_code == 200, resp.text
        return str(resp.json()["room_id"])

    async def join(self, room: str) -> None:
        resp = await self.http.post(f"/_matrix/client/v3/join/{quote(room)}", json={})
        assert resp.status_code == 200, resp.text

    async def say(self, room: str, text: str) -> str:
        return await self._put(room, "m.room.message", {"msgtype": "m.text", "body": text})

    async def reply(self, room: str, to: str, text: str) -> str:
        content = {"msgtype": "m.text", "body": text, "m.relates_to": {"m.in_reply_to": {"event_id": to}}}
        return await self._put(room, "m.room.message", content)

    async def react(self, room: str, to: str, key: str) -> str:
        relates = {"rel_type": "m.annotation", "event_id": to, "key": key}
        return await self._put(room, "m.reaction", {"m.relates_to": relates})

    async def events(self, room: str) -> list[dict[str, Any]]:
        """The room's latest events, oldest first."""
        resp = await self.http.get(
            f"/_matrix/client/v3/rooms/{quote(room)}/messages", params={"dir": "b", "limit": 200}
        )
        assert resp.status_code == 200, resp.text
        return list(reversed(resp.json()["chunk"]))

    async def wait_for_message(
        self,
        room: str,
        sender: str,
        match: Callable[[dict[str, Any]], bool],
        *,
        after: str | None = None,
        timeout: float = 60,
        what: str = "a message",
    ) -> dict[str, Any]:
        """The first m.room.message from ``sender`` (after event ``after``) that ``match``es; polls."""

        async def found() -> dict[str, Any] | None:
            events = await self.events(room)
            if after is not None:
                ids = [e["event_id"] for e in events]
                events = events[ids.index(after) + 1 :] if after in ids else events
            for event in events:
                if event["type"] == "m.room.message" and event["sender"] == sender and match(event):
                    return event
            return None

        result = await wait_for(found, lambda e: e is not None, timeout=timeout, what=what)
        assert result is not None
        return result

    async def aclose(self) -> None:
        await self.http.aclose()


def body(event: dict[str, Any]) -> str:
    return str(event["content"].get("body", ""))


def edits_of(events: list[dict[str, Any]], original: str) -> list[str]:
    """The new bodies of the m.replace edits of one message, in order."""
    return [
        e["content"]["m.new_content"]["body"]
        for e in events
        if e["type"] == "m.room.message"
        and e["content"].get("m.relates_to", {}).get("rel_type") == "m.replace"
        and e["content"]["m.relates_to"].get("event_id") == original
    ]
