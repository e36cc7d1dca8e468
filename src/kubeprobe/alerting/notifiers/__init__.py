"""Notifiers: one module per service, each registered by kind in `registry`.

base.py        Notifier protocol, errors, the registry, config helpers and the HTTP status check
webhook.py     generic JSON webhook
slack.py       Slack incoming webhook and chat.postMessage (bot token)
dingtalk.py    DingTalk robot: markdown message, optional HMAC-SHA256 signing
email.py       email over SMTP (optional STARTTLS and login), sent from a thread
pagerduty.py   PagerDuty Events API v2: trigger, acknowledge, resolve by dedup_key
"""

from kubeprobe.alerting.notifiers import dingtalk, email, pagerduty, slack, webhook
from kubeprobe.alerting.notifiers.base import (
    Notifier,
    NotifierConfigError,
    NotifierError,
    build_notifier,
    registry,
)

__all__ = [
    "Notifier",
    "NotifierConfigError",
    "NotifierError",
    "build_notifier",
    "dingtalk",
    "email",
    "pagerduty",
    "registry",
    "slack",
    "webhook",
]
