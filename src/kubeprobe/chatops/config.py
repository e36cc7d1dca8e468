"""The bot's settings: who may do what, which channel sees which clusters, limits, center tokens.

One settings object (pydantic-settings, prefix ``KUBEPROBE_CHATOPS_``), passed in. ``users`` maps a
chat user (``matrix:@alice:example.org``, ``slack:U123``, ``dingtalk:staffId``,
``mattermost:user_id``) to a center role; nobody else may do anything. ``channels`` maps a channel
(``matrix:!room:example.org``) to the clusters it may see and act on (``*`` for all); a channel with
exactly one cluster fills the ``cluster`` slot when a message leaves it out. The bot calls the
center with one API token per role it acts as, each read from a file or the environment, never
from the settings file in clear; the chat user's name goes with every request and into comments.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Role = Literal["viewer", "operator", "admin"]


class ChatOpsConfigError(ValueError):
    """The bot's configuration is incomplete; the message says which setting to give."""


class ChatOpsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KUBEPROBE_CHATOPS_", extra="ignore")

    center_url: str = Field(default="http://127.0.0.1:8080", description="the center's API")
    dashboard_url: str | None = Field(
        default=None, description="where answers link to (default: the center URL)"
    )
    users: dict[str, Role] = Field(default_factory=dict, description="chat user → center role")
    channels: dict[str, list[str]] = Field(default_factory=dict, description="channel → clusters ('*' = all)")
    token_files: dict[Role, Path] = Field(
        default_factory=dict, description="role → file holding the center API token the bot uses for it"
    )
    rate_per_minute: int = Field(default=20, ge=1, description="commands a user may send per minute")
    confirm_seconds: int = Field(default=300, ge=10, description="how long a confirmation stays valid")
    incident_poll_seconds: float = Field(
        default=5.0, gt=0, description="how often incidents are checked for changes"
    )
    follow_run_seconds: float = Field(
        default=600.0, gt=0, description="how long a rerun is followed for its result"
    )

    @field_validator("center_url", "dashboard_url")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @property
    def links(self) -> str:
        return self.dashboard_url or self.center_url

    def role_of(self, user: str) -> Role | None:
        return self.users.get(user)

    def scope_of(self, channel: str) -> list[str] | None:
        """The clusters a channel may see (['*'] for all); None when the channel is not configured."""
        return self.channels.get(channel)

    def token(self, role: Role) -> str:
        """The center token for a role: KUBEPROBE_CHATOPS_TOKEN_<ROLE>, else the file named in token_files."""
        value = os.environ.get(f"KUBEPROBE_CHATOPS_TOKEN_{role.upper()}")
        if value:
            return value.strip()
        path = self.token_files.get(role)
        if path is None:
            raise ChatOpsConfigError(
                f"no center token for role {role}: "
                f"set KUBEPROBE_CHATOPS_TOKEN_{role.upper()} or token_files.{role}"
            )
        try:
            return path.read_text().strip()
        except OSError as exc:
            raise ChatOpsConfigError(f"cannot read the {role} token from {path}: {exc}") from exc
