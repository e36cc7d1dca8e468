"""Each notifier against a local receiver that checks the service's real payload format, and email
against a local SMTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest

from kubeprobe.alerting.incidents import AlertingPolicy, observe
from kubeprobe.alerting.messages import Notification, notification
from kubeprobe.alerting.notifiers import NotifierConfigError, NotifierError, build_notifier, registry

from .conftest import Mailbox
from .helpers import signal
from .receivers import DINGTALK_SECRET, ROUTING_KEY, Receivers

FACTS = (
    "prod-1",
    "pod-lifecycle",
    "scheduled",
    "scheduling.scheduler_down",
    "90%",
    "P1",
    "http://center/runs/",
)


def a_notification(event: str = "firing") -> Notification:
    s = signal("prod-1", "pod-lifecycle", priority="P1", confidence=0.9)
    (incident,) = observe(s, [], [], AlertingPolicy()).changed
    incident.id = 7
    return notification(incident, event)  # type: ignore[arg-type]


def says_everything(text: str) -> None:
    for fact in FACTS:
        assert fact in text, f"{fact!r} missing from {text!r}"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as c:
        yield c


async def send(
    kind: str,
    settings: Mapping[str, Any],
    secrets: Mapping[str, str],
    client: httpx.AsyncClient,
    event: str = "firing",
) -> None:
    await build_notifier(kind, settings, secrets, client).send(a_notification(event))


def test_every_kind_is_registered() -> None:
    assert registry.kinds() == ["dingtalk", "email", "pagerduty", "slack", "webhook"]
    with pytest.raises(ValueError, match="twice"):
        registry.register("slack")(lambda s, k, c: None)  # type: ignore[arg-type,return-value]


async def test_webhook_posts_every_fact_as_json(receivers: Receivers, client: httpx.AsyncClient) -> None:
    await send("webhook", {}, {"url": f"{receivers.url}/hook", "bearer_token": "abc"}, client)
    (req,) = receivers.on("/hook")
    assert req.headers["Authorization"] == "Bearer abc"
    body = req.body
    assert body["cluster"] == "prod-1"
    assert body["case"] == "pod-lifecycle"
    assert body["step"] == "scheduled"
    assert body["cause"] == "scheduling.scheduler_down"
    assert body["confidence"] == 0.9
    assert body["priority"] == "P1"
    assert body["run_url"].startswith("http://center/runs/")
    assert body["event"] == "firing"
    says_everything(body["text"])


async def test_slack_incoming_webhook(receivers: Receivers, client: httpx.AsyncClient) -> None:
    await send("slack", {}, {"webhook_url": f"{receivers.url}/slack/webhook"}, client)
    (req,) = receivers.on("/slack/webhook")
    says_everything(req.body["text"])
    kinds = [b["type"] for b in req.body["blocks"]]
    assert kinds == ["header", "section", "section", "actions"]
    assert req.body["blocks"][-1]["elements"][0]["url"].startswith("http://center/runs/")


async def test_slack_chat_post_message_with_bot_token(
    receivers: Receivers, client: httpx.AsyncClient
) -> None:
    settings = {"channel": "C0123", "api_url": f"{receivers.url}/api/chat.postMessage"}
    await send("slack", settings, {"bot_token": "xoxb-test-token"}, client)
    (req,) = receivers.on("/api/chat.postMessage")
    assert req.body["channel"] == "C0123"
    says_everything(req.body["text"])
    with pytest.raises(NotifierError, match="invalid_auth") as err:
        await send("slack", settings, {"bot_token": "xoxb-wrong"}, client)
    assert not err.value.retryable


async def test_dingtalk_signed_markdown(receivers: Receivers, client: httpx.AsyncClient) -> None:
    url = f"{receivers.url}/robot/send?access_token=tok"
    await send("dingtalk", {}, {"webhook_url": url, "secret": DINGTALK_SECRET}, client)
    (req,) = receivers.on("/robot/send")
    assert req.body["msgtype"] == "markdown"
    says_everything(req.body["markdown"]["text"])
    with pytest.raises(NotifierError, match="sign not match"):
        await send("dingtalk", {}, {"webhook_url": url, "secret": "another-secret"}, client)


async def test_pagerduty_trigger_acknowledge_resolve(receivers: Receivers, client: httpx.AsyncClient) -> None:
    settings = {"url": f"{receivers.url}/v2/enqueue"}
    for event in ("firing", "acknowledged", "resolved"):
        await send("pagerduty", settings, {"routing_key": ROUTING_KEY}, client, event)
    trigger, ack, resolve = (r.body for r in receivers.on("/v2/enqueue"))
    assert [trigger["event_action"], ack["event_action"], resolve["event_action"]] == [
        "trigger",
        "acknowledge",
        "resolve",
    ]
    assert trigger["dedup_key"] == ack["dedup_key"] == resolve["dedup_key"] == "kubeprobe-incident-7"
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["source"] == "prod-1"
    says_everything(str(trigger["payload"]["custom_details"]))
    assert trigger["links"][0]["href"].startswith("http://center/runs/")
    with pytest.raises(NotifierError, match="400") as err:
        await send("pagerduty", settings, {"routing_key": "short"}, client)
    assert not err.value.retryable


async def test_server_errors_are_retryable(receivers: Receivers, client: httpx.AsyncClient) -> None:
    receivers.fail.extend([500, 429])
    for _ in range(2):
        with pytest.raises(NotifierError) as err:
            await send("webhook", {}, {"url": f"{receivers.url}/hook"}, client)
        assert err.value.retryable
    await send("webhook", {}, {"url": f"{receivers.url}/hook"}, client)


async def test_unreachable_is_retryable(client: httpx.AsyncClient) -> None:
    from .conftest import free_port

    with pytest.raises(NotifierError, match="unreachable") as err:
        await send("webhook", {}, {"url": f"http://127.0.0.1:{free_port()}/hook"}, client)
    assert err.value.retryable


async def test_email_over_smtp(smtp: tuple[Mailbox, int], client: httpx.AsyncClient) -> None:
    mailbox, port = smtp
    settings = {
        "host": "127.0.0.1",
        "port": port,
        "sender": "kubeprobe@example.org",
        "to": "a@example.org, b@example.org",
    }
    await send("email", settings, {}, client)
    ((sender, rcpts, msg),) = mailbox.messages
    assert sender == "kubeprobe@example.org"
    assert rcpts == ["a@example.org", "b@example.org"]
    assert msg["Subject"].startswith("[P1] FIRING: scheduling.scheduler_down on prod-1")
    assert msg["X-KubeProbe-Incident"] == "7"
    says_everything(msg.get_payload(decode=True).decode())


@pytest.mark.parametrize(
    ("kind", "settings", "secrets", "field"),
    [
        ("webhook", {}, {}, "secrets.url"),
        ("webhook", {}, {"url": "ftp://x"}, "secrets.url"),
        ("slack", {}, {}, "secrets"),
        ("slack", {}, {"bot_token": "x"}, "settings.channel"),
        ("dingtalk", {}, {}, "secrets.webhook_url"),
        ("email", {"host": "h", "sender": "s@x"}, {}, "settings.to"),
        ("email", {"host": "h", "sender": "s@x", "to": "nobody"}, {}, "settings.to"),
        ("email", {"host": "h", "sender": "s@x", "to": "a@b", "port": 0}, {}, "settings.port"),
        ("pagerduty", {}, {}, "secrets.routing_key"),
        ("teams", {}, {}, "kind"),
    ],
)
async def test_bad_receiver_config_names_the_field(
    kind: str, settings: dict[str, Any], secrets: dict[str, str], field: str, client: httpx.AsyncClient
) -> None:
    with pytest.raises(NotifierConfigError, match=f"^{field}"):
        build_notifier(kind, settings, secrets, client)
