"""What flows between the bot and a chat adapter, platform-neutral: messages in, replies with buttons out.

A button carries an ``action`` string (``confirm:<id>``, ``ack:<incident>`` ...). Adapters render
buttons as Block Kit buttons, interactive card buttons, message actions or (Matrix) reactions, and
hand a click back as the same string with the clicking user: the bot checks that user again.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class ChatUser:
    """A chat user: ``key`` (``matrix:@alice:localhost``) is what the config maps to a role."""

    platform: str
    id: str
    display: str = ""

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.id}"

    @property
    def name(self) -> str:
        return self.display or self.id


@dataclass(frozen=True)
class Inbound:
    """One message a user sent where the bot listens."""

    user: ChatUser
    channel: str  # platform-qualified: matrix:!room:localhost
    text: str


@dataclass(frozen=True)
class Button:
    label: str
    action: str
    #: the emoji a reaction-based adapter (Matrix) offers for it
    emoji: str = ""
    danger: bool = False


@dataclass
class Reply:
    text: str
    buttons: list[Button] = field(default_factory=list)
    #: the incident this message shows (adapters map reactions and replies on it back to actions)
    incident: int | None = None


class ChatTransport(Protocol):
    """What the bot needs from an adapter to speak on its own: post, and edit what it posted."""

    def send(self, channel: str, reply: Reply) -> Awaitable[str]:
        """Post a message; returns its id on the platform."""
        ...

    def edit(self, channel: str, message_id: str, reply: Reply) -> Awaitable[None]:
        """Replace a message the bot posted."""
        ...
