"""Fixtures of the chatops tests: a real center app (SQLite, built-in cases, no dispatcher) reached
in-process, and a bot wired to it with a recording transport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from kubeprobe.center.app import create_app
from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.settings import CenterSettings
from kubeprobe.center.store.database import Store
from kubeprobe.chatops.actions import Actions
from kubeprobe.chatops.bot import Bot
from kubeprobe.chatops.catalog import Catalog
from kubeprobe.chatops.center import ChatCenter
from kubeprobe.chatops.config import ChatOpsSettings
from kubeprobe.chatops.messages import ChatUser, Reply
from kubeprobe.chatops.understanding import Understanding
from tests.center.helpers import KUBECONFIG

ADMIN = "kp_chatops-test-admin"
ALICE = ChatUser("test", "alice", "Alice")  # operator
BOB = ChatUser("test", "bob", "Bob")  # operator too
VICTOR = ChatUser("test", "victor", "Victor")  # viewer
MALLORY = ChatUser("test", "mallory", "Mallory")  # no role
ROOM = "test:ops"  # bound to the cluster "sandbox"
FLEET = "test:fleet"  # every cluster
PLATFORMS = ("test", "slack", "mattermost", "dingtalk")  # each has users alice, bob, victor and channel ops


@dataclass
class Recorder:
    """A ChatTransport that keeps what the bot posted and edited."""

    sent: list[tuple[str, Reply]] = field(default_factory=list)
    edits: list[tuple[str, str, Reply]] = field(default_factory=list)

    async def send(self, channel: str, reply: Reply) -> str:
        self.sent.append((channel, reply))
        return f"m{len(self.sent)}"

    async def edit(self, channel: str, message_id: str, reply: Reply) -> None:
        self.edits.append((channel, message_id, reply))


@dataclass
class Rig:
    bot: Bot
    http: httpx.AsyncClient  # admin
    transport: Recorder
    clock: list[float]

    def bot_on(self, transport: object) -> Bot:
        """Another bot on the same center and settings, speaking through ``transport``."""
        return Bot(self.bot.settings, self.bot.actions, self.bot.understanding, transport)  # type: ignore[arg-type]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    settings = CenterSettings(
        data_dir=tmp_path / "data",
        admin_token=ADMIN,
        chatops={"delegates": ["chatops-operator", "chatops-viewer"]},
    )
    store = Store.connect(f"sqlite+aiosqlite:///{tmp_path / 'center.db'}", timeout=2.0)
    await store.migrate()
    app = create_app(settings, store=store, box=SecretBox(Fernet.generate_key()), maintenance=False)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app):
        http = httpx.AsyncClient(
            transport=transport, base_url="http://center", headers={"Authorization": f"Bearer {ADMIN}"}
        )
        for cluster in ("sandbox", "other"):
            resp = await http.post("/api/v1/clusters", json={"name": cluster, "kubeconfig": KUBECONFIG})
            assert resp.status_code == 201, resp.text
        tokens = {}
        for role in ("viewer", "operator"):
            resp = await http.post("/api/v1/tokens", json={"name": f"chatops-{role}", "role": role})
            tokens[role] = tmp_path / f"{role}.token"
            tokens[role].write_text(resp.json()["token"])
        chat = ChatOpsSettings(
            center_url="http://center",
            dashboard_url="https://kubeprobe.example",
            users={
                f"{p}:{u}": role
                for p in PLATFORMS
                for u, role in (("alice", "operator"), ("bob", "operator"), ("victor", "viewer"))
            },
            channels={**{f"{p}:ops": ["sandbox"] for p in PLATFORMS}, FLEET: ["*"]},
            token_files=tokens,
            rate_per_minute=30,
        )
        center = ChatCenter(chat, transport=transport)
        clock = [1000.0]
        recorder = Recorder()
        names = Catalog.of(["sandbox", "other"], ["pod-lifecycle", "node-probe"])
        bot = Bot(chat, Actions(center, chat.links), Understanding(names), recorder, clock=lambda: clock[0])
        yield Rig(bot, http, recorder, clock)
        await bot.aclose()
        await center.aclose()
        await http.aclose()
    await store.close()
