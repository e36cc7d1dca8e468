"""End to end on a real chat server: Synapse (scripts/synapse), the bot's Matrix adapter, a real center
with its dispatcher, analysis and incident workers, and runs on the session's sandbox cluster.

Two people share a room bound to the cluster "sandbox": an operator and a viewer. They ask for
status, rerun a probe (confirmed by a reaction; the run really starts and its result comes back),
the viewer is refused, a paused kube-scheduler makes a run fail and raises an incident that appears
in the room, is diagnosed, acknowledged by a reaction and edited in place until it resolves, and a
silence with a duration is confirmed by a reply; a remediation is approved by a reaction (the
viewer is refused) and runs once, and pausing remediation asked in plain words is confirmed first.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr

from kubeprobe.center.settings import CenterSettings
from kubeprobe.chatops.adapters.matrix import MatrixAdapter, MatrixSettings
from kubeprobe.chatops.config import ChatOpsSettings
from kubeprobe.chatops.service import ChatOps, running
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.waiting import wait_for
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults
from tests.remedy.sandbox_helpers import crash_looping_pod, pod_delete, pods_of
from tests.web.browser import free_port, serving_dashboard

from .matrix import Person, body, edits_of, register, start_synapse

ADMIN = "kp_chatops-matrix-admin"
pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.sandbox]


@dataclass
class World:
    room: str
    bot: str  # the bot's user id
    alice: Person  # operator
    victor: Person  # viewer
    center: httpx.AsyncClient  # admin
    ops: ChatOps
    sandbox: Sandbox

    async def ask(self, who: Person, text: str, match: str, timeout: float = 90) -> dict[str, object]:
        """Say something and wait for the bot's answer containing ``match``."""
        sent = await who.say(self.room, text)
        return await who.wait_for_message(
            self.room,
            self.bot,
            lambda e: match in body(e),
            after=sent,
            timeout=timeout,
            what=f"answer {match!r}",
        )


async def _tokens(http: httpx.AsyncClient, folder: Path) -> dict[str, Path]:
    files = {}
    for role in ("viewer", "operator"):
        resp = await http.post("/api/v1/tokens", json={"name": f"chatops-{role}", "role": role})
        assert resp.status_code == 201, resp.text
        files[role] = folder / f"{role}.token"
        files[role].write_text(resp.json()["token"])
    return files


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    syn = start_synapse()
    alice, victor = await Person.new(syn, "alice"), await Person.new(syn, "victor")
    bot_password = "bot-" + tmp_path_factory.mktemp("x").name
    bot = await register(syn, f"kpbot-{alice.user_id[7:13]}", bot_password)
    room = await alice.create_room(invite=[victor.user_id, bot["user_id"]])
    await victor.join(room)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    folder = tmp_path_factory.mktemp("chatops")
    center = CenterSettings(
        data_dir=folder / "center", admin_token=ADMIN, port=port, public_url=url, runner_mode="local"
    )
    with serving_dashboard(center, dispatch=True, maintenance=False):
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60
        ) as http:
            resp = await http.post(
                "/api/v1/clusters", json={"name": "sandbox", "kubeconfig": sandbox.kubeconfig.read_text()}
            )
            assert resp.status_code == 201, resp.text
            settings = ChatOpsSettings(
                center_url=url,
                users={f"matrix:{alice.user_id}": "operator", f"matrix:{victor.user_id}": "viewer"},
                channels={f"matrix:{room}": ["sandbox"]},
                token_files=await _tokens(http, folder),
                incident_poll_seconds=1.0,
                follow_run_seconds=300.0,
            )
            matrix = MatrixSettings(homeserver=syn.url, user=bot["user_id"], password=SecretStr(bot_password))
            adapter = await MatrixAdapter.login(matrix)
            await adapter.client.join(room)
            async with running(settings, adapter) as ops:
                adapter.bot = ops.bot
                task = asyncio.create_task(adapter.run())
                await wait_for(
                    lambda: asyncio.sleep(0, ops.bot.understanding.catalog.clusters),
                    lambda names: "sandbox" in names,
                    timeout=60,
                    what="the bot's catalog",
                )
                try:
                    yield World(room, bot["user_id"], alice, victor, http, ops, sandbox)
                finally:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
                    await adapter.aclose()
                    await alice.aclose()
                    await victor.aclose()


async def test_status_and_the_viewer_is_refused_mutations(world: World) -> None:
    await world.ask(world.alice, "how is sandbox doing?", "sandbox: ")
    refused = await world.ask(world.victor, "rerun pod-lifecycle on sandbox", "may not")
    assert "your role viewer may not rerun" in body(refused)
    await world.ask(world.victor, "/kp silence sandbox 1h", "your role viewer may not silence")
    help_text = body(await world.ask(world.victor, "/kp help", "Your role: viewer"))
    assert "rerun (operator)" in help_text


async def test_rerun_confirmed_by_a_reaction_starts_a_real_run_and_posts_its_result(world: World) -> None:
    ask = await world.ask(world.alice, "rerun pod-lifecycle on sandbox", "/kp rerun pod-lifecycle sandbox")
    refusal_to = await world.victor.react(world.room, str(ask["event_id"]), "👍")
    await world.victor.wait_for_message(
        world.room,
        world.bot,
        lambda e: "only the person who asked" in body(e),
        after=refusal_to,
        what="refusal",
    )
    go = await world.alice.react(world.room, str(ask["event_id"]), "👍")
    started = await world.alice.wait_for_message(
        world.room, world.bot, lambda e: body(e).startswith("Started pod-lifecycle on sandbox"), after=go
    )
    run_id = re.search(r"run ([0-9a-f]{32})", body(started))
    assert run_id is not None
    result = await world.alice.wait_for_message(
        world.room, world.bot, lambda e: body(e).startswith(f"Run {run_id.group(1)} "), after=go, timeout=240
    )
    assert "pod-lifecycle on sandbox: succeeded" in body(result)
    run = (await world.center.get(f"/api/v1/runs/{run_id.group(1)}")).json()
    assert run["state"] == "succeeded"


async def test_a_fault_raises_an_incident_in_the_room_diagnosed_acked_and_edited_until_resolved(
    world: World,
) -> None:
    async with Faults(world.sandbox).paused("kube-scheduler"):
        sent = await world.alice.say(world.room, "/kp rerun pod-lifecycle sandbox")
        failed = await world.alice.wait_for_message(
            world.room,
            world.bot,
            lambda e: ": failed" in body(e) and body(e).startswith("Run "),
            after=sent,
            timeout=240,
            what="the failed run",
        )
        assert "scheduled" in body(failed)
        incident = await world.alice.wait_for_message(
            world.room,
            world.bot,
            lambda e: "FIRING" in body(e) and "Incident #" in body(e),
            after=sent,
            timeout=300,
            what="the incident",
        )
    number = re.search(r"Incident #(\d+)", body(incident))
    assert number is not None
    diagnosis = await world.ask(world.alice, "why did pod-lifecycle fail on sandbox", "Cause: ")
    assert "failed" in body(diagnosis)
    no = await world.victor.react(world.room, str(incident["event_id"]), "✅")
    await world.victor.wait_for_message(
        world.room, world.bot, lambda e: "viewer may not ack" in body(e), after=no
    )
    yes = await world.alice.react(world.room, str(incident["event_id"]), "✅")
    await world.alice.wait_for_message(
        world.room, world.bot, lambda e: f"Incident #{number.group(1)} acknowledged" in body(e), after=yes
    )

    async def edits() -> list[str]:
        return edits_of(await world.alice.events(world.room), str(incident["event_id"]))

    await wait_for(edits, lambda got: any("ACKNOWLEDGED" in b for b in got), timeout=60, what="edited: acked")
    await world.ask(world.alice, "/kp rerun pod-lifecycle sandbox", "Started")
    await wait_for(edits, lambda got: any("RESOLVED" in b for b in got), timeout=300, what="edited: resolved")
    state = (await world.center.get(f"/api/v1/incidents/{number.group(1)}")).json()["state"]
    assert state == "resolved"


async def test_silence_with_a_duration_confirmed_by_a_reply(world: World) -> None:
    ask = await world.ask(world.alice, "silence sandbox for 2h, etcd upgrade", "/kp silence sandbox 2h")
    sent = await world.alice.reply(world.room, str(ask["event_id"]), "confirm")
    done = await world.alice.wait_for_message(
        world.room, world.bot, lambda e: body(e).startswith("Silenced cluster=sandbox for 2h"), after=sent
    )
    silence_id = re.search(r"silence #(\d+)", body(done))
    assert silence_id is not None
    silence = (await world.center.get(f"/api/v1/silences/{silence_id.group(1)}")).json()
    assert silence["comment"].startswith("etcd upgrade (by alice")
    ends = dt.datetime.fromisoformat(silence["ends"])
    assert abs((ends - dt.datetime.now(dt.UTC)).total_seconds() - 7200) < 120


async def test_a_remediation_approved_in_chat_runs_once_and_pausing_is_confirmed_first(
    world: World, kube: KubeClient, namespace: str
) -> None:
    victim = await crash_looping_pod(kube, namespace, "chat-web")
    resp = await world.center.post("/api/v1/remediations", json=pod_delete(victim))
    assert resp.status_code == 201, resp.text
    rid = resp.json()["id"]
    await world.ask(world.victor, f"/kp approve #{rid}", "your role viewer may not approve")
    ask = await world.ask(world.alice, f"please approve remediation {rid}", f"/kp approve #{rid}")
    go = await world.alice.react(world.room, str(ask["event_id"]), "👍")
    await world.alice.wait_for_message(
        world.room, world.bot, lambda e: f"Remediation #{rid} approved; it runs now" in body(e), after=go
    )

    async def state() -> dict[str, object]:
        got: dict[str, object] = (await world.center.get(f"/api/v1/remediations/{rid}")).json()
        return got

    done = await wait_for(state, lambda r: r["state"] == "verified", timeout=120, what="verified")
    assert "chatops-operator" in str(done["approver"])  # the operator token the bot uses for alice
    assert victim["metadata"]["uid"] not in {
        p["metadata"]["uid"] for p in await pods_of(kube, namespace, "chat-web")
    }
    await world.ask(world.alice, f"/kp approve #{rid}", f"Remediation #{rid} was not waiting for approval")
    pause = await world.ask(
        world.alice, "stop automatic remediation on sandbox, deploy freeze", "/kp pause-remediation sandbox"
    )
    sent = await world.alice.reply(world.room, str(pause["event_id"]), "confirm")
    await world.alice.wait_for_message(
        world.room, world.bot, lambda e: body(e).startswith("Remediation paused on sandbox"), after=sent
    )
    await world.ask(world.alice, "/kp resume-remediation sandbox", "Remediation resumed on sandbox")
