"""The bot against a real center app: roles, scope, confirmation, clicks re-checked, limits, help."""

from __future__ import annotations

from kubeprobe.chatops.messages import ChatUser, Inbound, Reply

from .conftest import ALICE, BOB, FLEET, MALLORY, ROOM, VICTOR, Rig


async def say(rig: Rig, user: ChatUser, text: str, channel: str = ROOM) -> Reply:
    reply = await rig.bot.handle(Inbound(user, channel, text))
    assert reply is not None
    return reply


async def runs(rig: Rig) -> list[dict[str, object]]:
    return list((await rig.http.get("/api/v1/runs")).json()["items"])


async def test_help_lists_what_your_role_may_do(rig: Rig) -> None:
    viewer = (await say(rig, VICTOR, "/kp help")).text
    operator = (await say(rig, ALICE, "what can you do")).text
    assert "Your role: viewer" in viewer
    assert "Your role: operator" in operator
    assert "`/kp status [CLUSTER]`" in viewer
    may_viewer = viewer.split("Needs another role")[0]
    assert "/kp rerun" not in may_viewer
    assert "rerun (operator)" in viewer
    assert "/kp rerun CASE [CLUSTER]" in operator
    assert "Needs another role" not in operator
    assert "Clusters of this channel: sandbox" in viewer


async def test_unknown_users_and_channels_may_do_nothing(rig: Rig) -> None:
    assert "has no KubeProbe role" in (await say(rig, MALLORY, "/kp status")).text
    assert "not bound to any cluster" in (await say(rig, ALICE, "/kp status", "test:elsewhere")).text


async def test_viewer_reads_but_is_refused_mutations(rig: Rig) -> None:
    status = await say(rig, VICTOR, "how is sandbox doing?")
    assert status.text.startswith("sandbox: ")
    assert "https://kubeprobe.example/ui/#/cluster/sandbox" in status.text
    for text in (
        "rerun pod-lifecycle on sandbox",
        "/kp rerun pod-lifecycle sandbox",
        "/kp silence sandbox 1h",
    ):
        assert "your role viewer may not" in (await say(rig, VICTOR, text)).text
    assert await runs(rig) == []


async def test_free_text_mutation_is_echoed_and_runs_only_when_its_requester_confirms(rig: Rig) -> None:
    ask = await say(rig, ALICE, "please rerun pod-lifecycle on sandbox")
    assert "`/kp rerun pod-lifecycle sandbox`" in ask.text
    assert [b.label for b in ask.buttons] == ["Confirm", "Cancel"]
    confirm = ask.buttons[0].action
    assert await runs(rig) == []
    assert "only the person who asked" in (await rig.bot.click(BOB, ROOM, confirm)).text
    assert "only the person who asked" in (await rig.bot.click(VICTOR, ROOM, confirm)).text
    assert "no longer valid" in (await rig.bot.click(ALICE, "test:fleet", confirm)).text  # another channel
    started = await rig.bot.click(ALICE, ROOM, confirm)
    assert started.text.startswith("Started pod-lifecycle on sandbox: run ")
    assert len(await runs(rig)) == 1
    assert "no longer valid" in (await rig.bot.click(ALICE, ROOM, confirm)).text  # a replayed click
    assert len(await runs(rig)) == 1


async def test_confirmation_by_words_cancel_and_expiry(rig: Rig) -> None:
    await say(rig, ALICE, "silence sandbox for 2h, etcd upgrade")
    assert (await say(rig, ALICE, "no")).text == "Cancelled: `/kp silence sandbox 2h 'etcd upgrade'`"
    assert await rig.bot.handle(Inbound(ALICE, ROOM, "yes")) is None  # nothing waits any more
    await say(rig, ALICE, "静默 sandbox 两小时，etcd 升级")
    done = await say(rig, ALICE, "确认")
    assert done.text.startswith("Silenced cluster=sandbox for 2h (silence #")
    silences = (await rig.http.get("/api/v1/silences")).json()
    assert [s["comment"] for s in silences] == ["etcd 升级 (by Alice in chat)"]
    ask = await say(rig, ALICE, "rerun node-probe on sandbox")
    rig.clock[0] += 301
    assert "no longer valid" in (await rig.bot.click(ALICE, ROOM, ask.buttons[0].action)).text


async def test_exact_commands_run_at_once_within_the_channels_scope(rig: Rig) -> None:
    started = await say(rig, ALICE, "/kp rerun pod-lifecycle")  # the room's one cluster fills it
    assert started.text.startswith("Started pod-lifecycle on sandbox")
    refused = await say(rig, ALICE, "/kp rerun pod-lifecycle other")
    assert refused.text == "Cluster other is not in this channel's scope (sandbox)."
    assert (await say(rig, ALICE, "/kp rerun pod-lifecycle other", FLEET)).text.startswith("Started")
    assert "Missing cluster" in (await say(rig, ALICE, "/kp rerun pod-lifecycle", FLEET)).text


async def test_did_you_mean_and_not_understood(rig: Rig) -> None:
    assert "did you mean pod-lifecycle?" in (await say(rig, ALICE, "/kp rerun pod-lifecyle sandbox")).text
    assert "did you mean sandbox?" in (await say(rig, ALICE, "status of sandbx-1", FLEET)).text
    assert "Missing incident: /kp ack INCIDENT" in (await say(rig, ALICE, "/kp ack")).text
    assert (
        "Missing silence: /kp unsilence SILENCE" in (await say(rig, ALICE, "/kp unsilence everything")).text
    )


async def test_remediations_are_approved_once_denied_and_paused_from_chat(rig: Rig) -> None:
    body = {"cluster": "sandbox", "action": "node-drain", "name": "n1"}
    first = (await rig.http.post("/api/v1/remediations", json=body)).json()
    second = (await rig.http.post("/api/v1/remediations", json=body)).json()
    assert "your role viewer may not approve" in (await say(rig, VICTOR, f"/kp approve #{first['id']}")).text
    ask = await say(rig, ALICE, f"please approve remediation {first['id']}")
    assert f"`/kp approve #{first['id']}`" in ask.text
    assert [b.label for b in ask.buttons] == ["Confirm", "Cancel"]
    waiting = (await rig.http.get(f"/api/v1/remediations/{first['id']}")).json()
    assert waiting["state"] == "awaiting-approval"  # nothing before the confirm
    assert "only the person who asked" in (await rig.bot.click(BOB, ROOM, ask.buttons[0].action)).text
    done = await rig.bot.click(ALICE, ROOM, ask.buttons[0].action)
    assert f"Remediation #{first['id']} approved; it runs now" in done.text
    assert "node-drain Node n1 on sandbox" in done.text
    approved = (await rig.http.get(f"/api/v1/remediations/{first['id']}")).json()
    assert approved["approver"] == "test:alice via chatops-operator"
    again = await say(rig, BOB, f"/kp approve #{first['id']}")
    assert f"Remediation #{first['id']} was not waiting for approval" in again.text
    denied = await say(rig, BOB, f"/kp deny #{second['id']} too risky")
    assert f"Remediation #{second['id']} denied" in denied.text
    assert (await rig.http.get(f"/api/v1/remediations/{second['id']}")).json()["state"] == "denied"
    assert "not found" in (await say(rig, ALICE, "/kp approve #999")).text
    paused = await say(rig, ALICE, "/kp pause-remediation sandbox change freeze")
    assert paused.text.startswith("Remediation paused on sandbox by Alice")
    assert "your role viewer may not" in (await say(rig, VICTOR, "/kp resume-remediation")).text
    assert (
        await say(rig, ALICE, "/kp resume-remediation")
    ).text == "Remediation resumed on sandbox by Alice."
    assert "not found: nothing paused" in (await say(rig, ALICE, "/kp resume-remediation")).text


async def test_center_refusals_become_answers(rig: Rig) -> None:
    assert "not found" in (await say(rig, ALICE, "/kp ack #999")).text
    assert "not found" in (await say(rig, ALICE, "/kp unsilence #999")).text


async def test_per_user_rate_limit(rig: Rig) -> None:
    rig.bot.limiter.burst = 3.0
    rig.bot.limiter._buckets.clear()
    for _ in range(3):
        assert "too many" not in (await say(rig, VICTOR, "/kp help")).text
    assert "too many commands" in (await say(rig, VICTOR, "/kp help")).text
    assert "too many" not in (await say(rig, ALICE, "/kp help")).text  # per user
    rig.clock[0] += 60
    assert "too many" not in (await say(rig, VICTOR, "/kp help")).text


async def test_unknown_buttons_and_forged_incident_actions(rig: Rig) -> None:
    assert "unknown action" in (await rig.bot.click(ALICE, ROOM, "drop-database:1")).text
    assert "your role viewer may not" in (await rig.bot.click(VICTOR, ROOM, "ack:1")).text
    assert "incident #5" in (await rig.bot.click(ALICE, ROOM, "silence-1h:5")).text


async def test_the_audit_log_names_the_chat_user(rig: Rig) -> None:
    await say(rig, ALICE, "/kp silence sandbox 1h change window")
    await say(rig, ALICE, "/kp rerun pod-lifecycle sandbox")
    audit = (await rig.http.get("/api/v1/audit")).json()
    actors = {(a["resource"], a["actor"]) for a in audit}
    assert ("silence", "test:alice via chatops-operator") in actors
    silences = (await rig.http.get("/api/v1/silences")).json()
    assert silences[0]["created_by"] == "test:alice via chatops-operator"
    # a token that is not a delegate cannot claim to be someone else: the header is ignored
    made = await rig.http.post("/api/v1/tokens", json={"name": "other-operator", "role": "operator"})
    headers = {"Authorization": f"Bearer {made.json()['token']}", "X-KubeProbe-On-Behalf-Of": "test:alice"}
    body = {"matchers": ["cluster=sandbox"], "ends": "2099-01-01T00:00:00Z"}
    created = await rig.http.post("/api/v1/silences", json=body, headers=headers)
    assert created.status_code == 201
    assert created.json()["created_by"] == "other-operator"
