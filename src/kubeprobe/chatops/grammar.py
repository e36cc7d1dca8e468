"""Exact commands: ``/kp rerun pod-lifecycle demo-1``, ``/kp silence prod-1 2h "etcd upgrade"``.

A message is a command when it starts with ``/kp`` or ``!kp`` (or a bot mention passed in as
prefix by the adapter). Words are split like a shell (quotes group a reason); each word fills the
next argument of the intent's definition whose shape it has: ids are numbers (``#12`` too), a run
is hex, a duration is one of :mod:`durations`' forms, the rest are names. When a catalog is
given, a name known as a case is never taken as the cluster (so ``/kp history pod-lifecycle``
reads as a case). :func:`render` writes a parse back as the exact command, which is what the bot
echoes before a mutating intent from free text runs.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from kubeprobe.chatops.catalog import Catalog
from kubeprobe.chatops.durations import format_duration, parse_duration
from kubeprobe.chatops.intents import INTENTS, Arg, IntentSpec, SlotValue

PREFIXES = ("/kp", "!kp")
_ID = re.compile(r"^#?(\d{1,9})$")
_RUN = re.compile(r"^[0-9a-f]{8,32}(?:-verify)?$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")


class CommandError(ValueError):
    """An exact command that does not fit its grammar; the message shows the usage."""


@dataclass(frozen=True)
class Command:
    spec: IntentSpec
    slots: dict[str, SlotValue]


def is_command(text: str) -> bool:
    head = text.strip().split(maxsplit=1)
    return bool(head) and head[0].lower() in PREFIXES


def _fits(arg: Arg, word: str, catalog: Catalog | None) -> SlotValue | None:
    """The slot value ``word`` gives for ``arg``, or None when it has another shape."""
    if arg.slot in ("incident", "silence", "remediation"):
        m = _ID.match(word)
        return int(m.group(1)) if m else None
    if arg.slot == "duration_seconds":
        return parse_duration(word)
    if arg.slot == "run":
        return word if _RUN.match(word) and not word.isdigit() else None
    if arg.slot in ("cluster", "case"):
        if not _NAME.match(word) or parse_duration(word) is not None or _ID.match(word):
            return None
        if catalog is not None and arg.optional:
            other = "case" if arg.slot == "cluster" else "cluster"
            if catalog.kind_of(word) == other:
                return None
        return word
    return word


def parse_command(text: str, catalog: Catalog | None = None) -> Command:
    """Parse an exact command (with its prefix). Raises CommandError with the usage on a misfit."""
    try:
        words = shlex.split(text.strip())
    except ValueError as exc:
        raise CommandError(f"cannot split the command: {exc}") from exc
    if not words or words[0].lower() not in PREFIXES:
        raise CommandError("a command starts with /kp")
    if len(words) == 1:
        return Command(INTENTS["help"], {})
    spec = INTENTS.by_word(words[1])
    if spec is None:
        raise CommandError(
            f"unknown command {words[1]!r}; commands: {', '.join(sorted(INTENTS))} (try /kp help)"
        )
    slots: dict[str, SlotValue] = {}
    rest = words[2:]
    i = 0
    for arg in spec.args:
        if arg.rest:
            if rest[i:]:
                slots[arg.slot] = " ".join(rest[i:])[:200]
                i = len(rest)
            break
        if i >= len(rest):
            if not arg.optional:
                raise CommandError(f"missing {arg.slot}: usage {spec.usage}")
            continue
        value = _fits(arg, rest[i], catalog)
        if value is None:
            if arg.optional:
                continue
            raise CommandError(f"{rest[i]!r} is not a {arg.slot.replace('_seconds', '')}: usage {spec.usage}")
        slots[arg.slot] = value
        i += 1
    if i < len(rest):
        raise CommandError(f"unexpected {' '.join(rest[i:])!r}: usage {spec.usage}")
    return Command(spec, slots)


def render(spec: IntentSpec, slots: dict[str, SlotValue]) -> str:
    """The exact command for an intent and its slots (what a confirmation echoes)."""
    parts = ["/kp", spec.command]
    for arg in spec.args:
        value = slots.get(arg.slot)
        if value is None:
            continue
        if arg.slot == "duration_seconds":
            parts.append(format_duration(int(value)))
        elif arg.slot in ("incident", "silence", "remediation"):
            parts.append(f"#{value}")
        else:
            parts.append(shlex.quote(str(value)))
    return " ".join(parts)
