"""PagerDuty Events API v2: trigger (firing, escalated, reminder), acknowledge and resolve, all with
the incident's dedup_key so PagerDuty keeps one alert per incident. secrets.routing_key is required."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from kubeprobe.alerting.messages import Notification
from kubeprobe.alerting.notifiers.base import NotifierError, http_url, need, post_json, registry

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SEVERITY = {"P1": "critical", "P2": "error", "P3": "warning", "P4": "info"}
ACTION = {"acknowledged": "acknowledge", "resolved": "resolve"}


def event(n: Notification, routing_key: str) -> dict[str, Any]:
    action = ACTION.get(n.event, "trigger")
    body: dict[str, Any] = {"routing_key": routing_key, "event_action": action, "dedup_key": n.dedup_key}
    if action == "trigger":
        body["payload"] = {
            "summary": n.title[:1024],
            "severity": SEVERITY.get(n.priority, "warning"),
            "source": n.cluster,
            "component": n.case,
            "group": n.cause.split(".", 1)[0],
            "class": n.cause,
            "custom_details": dict(n.lines()),
        }
        body["client"] = "KubeProbe"
        if n.run_url:
            body["client_url"] = n.run_url
            body["links"] = [{"href": n.run_url, "text": f"run {n.run_id}"}]
    return body


class PagerDutyNotifier:
    kind = "pagerduty"

    def __init__(self, routing_key: str, url: str, client: httpx.AsyncClient) -> None:
        self.routing_key, self.url, self.client = routing_key, url, client

    async def send(self, notification: Notification) -> None:
        resp = await post_json(self.client, self.url, event(notification, self.routing_key), "pagerduty")
        try:
            status = resp.json().get("status")
        except ValueError:
            status = None
        if status != "success":
            raise NotifierError(f"pagerduty did not accept the event: {resp.text[:200]}")


@registry.register("pagerduty")
def pagerduty(
    settings: Mapping[str, Any], secrets: Mapping[str, str], client: httpx.AsyncClient
) -> PagerDutyNotifier:
    key = str(need(secrets, "routing_key", "secrets", "the integration key of an Events API v2 service"))
    return PagerDutyNotifier(key, http_url(settings.get("url", EVENTS_URL), "settings.url"), client)
