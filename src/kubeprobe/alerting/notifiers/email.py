"""Email over SMTP with smtplib in a worker thread: plain-text body, optional STARTTLS and login.

settings: host, port (25), sender, to (list or comma-separated), starttls (false), username,
timeout_s (30); secrets: password.
"""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx

from kubeprobe.alerting.messages import Notification
from kubeprobe.alerting.notifiers.base import NotifierConfigError, NotifierError, need, registry


def message(n: Notification, sender: str, to: list[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = n.title
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["X-KubeProbe-Incident"] = str(n.incident_id)
    msg.set_content(n.text() + "\n")
    return msg


@dataclass(frozen=True)
class EmailNotifier:
    host: str
    port: int
    sender: str
    to: list[str]
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout_s: float = 30.0
    kind: str = "email"

    def _send(self, msg: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(msg)

    async def send(self, notification: Notification) -> None:
        try:
            await asyncio.to_thread(self._send, message(notification, self.sender, self.to))
        except smtplib.SMTPAuthenticationError as exc:
            raise NotifierError(f"smtp {self.host}: login refused: {exc}", retryable=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise NotifierError(f"smtp {self.host}:{self.port}: {type(exc).__name__}: {exc}") from exc


@registry.register("email")
def email(
    settings: Mapping[str, Any], secrets: Mapping[str, str], client: httpx.AsyncClient
) -> EmailNotifier:
    host = str(need(settings, "host", "settings", "the SMTP server"))
    to_value = need(settings, "to", "settings", "recipient addresses")
    to = [
        a.strip() for a in (to_value.split(",") if isinstance(to_value, str) else to_value) if str(a).strip()
    ]
    if not all("@" in a for a in to):
        raise NotifierConfigError(f"settings.to: {to} has an entry that is not an email address")
    try:
        port = int(settings.get("port", 25))
        timeout = float(settings.get("timeout_s", 30))
    except (TypeError, ValueError) as exc:
        raise NotifierConfigError(f"settings.port / settings.timeout_s: not a number ({exc})") from exc
    if not 0 < port < 65536:
        raise NotifierConfigError(f"settings.port: {port} is not a TCP port")
    sender = str(need(settings, "sender", "settings", "the From address"))
    username = settings.get("username") or None
    if username is not None and not isinstance(username, str):
        raise NotifierConfigError("settings.username: not a string")
    return EmailNotifier(
        host, port, sender, to, bool(settings.get("starttls", False)), username,
        secrets.get("password") or None, timeout,
    )  # fmt: skip
