"""The fixed vocabulary of intents and slots, and each intent's static definition.

An intent's definition says, once and for all, whether it changes anything (``mutating``), which
center role it needs, which slots it takes and in what order its exact command spells them. The
classifier only picks a name from this list: whether an action mutates, and so whether free text
must be confirmed first, never comes from a model. Other tools and tests rely on these names.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal, get_args

IntentName = Literal[
    "status",
    "history",
    "incidents",
    "rerun",
    "diagnose",
    "silence",
    "unsilence",
    "ack",
    "resolve",
    "gate",
    "approve",
    "deny",
    "pause_remediation",
    "resume_remediation",
    "help",
]
SlotName = Literal[
    "cluster", "case", "run", "incident", "silence", "remediation", "duration_seconds", "reason"
]
Role = Literal["viewer", "operator", "admin"]

INTENT_NAMES: tuple[IntentName, ...] = get_args(IntentName)
SLOT_NAMES: tuple[SlotName, ...] = get_args(SlotName)
ROLE_RANK: dict[str, int] = {"viewer": 0, "operator": 1, "admin": 2}

SlotValue = str | int


@dataclass(frozen=True)
class Arg:
    """One positional argument of an exact command: the slot it fills and whether it may be left out.

    ``rest`` takes every word left (a reason)."""

    slot: SlotName
    optional: bool = False
    rest: bool = False


@dataclass(frozen=True)
class IntentSpec:
    """What an intent is: the static facts the bot acts on."""

    name: IntentName
    summary: str
    role: Role
    mutating: bool
    args: tuple[Arg, ...] = ()
    #: slots that must be present before the intent can run (others may come from the channel)
    required: tuple[SlotName, ...] = ()
    #: other spellings accepted after ``/kp``
    aliases: tuple[str, ...] = ()
    #: acts on remediations (the center's remediation API: approve, deny, the kill switch)
    remediation: bool = False

    @property
    def command(self) -> str:
        return self.name.replace("_", "-")

    @property
    def usage(self) -> str:
        parts = [f"/kp {self.command}"]
        for arg in self.args:
            word = arg.slot.upper().replace("_SECONDS", "")
            word = f"{word}..." if arg.rest else word
            parts.append(f"[{word}]" if arg.optional else word)
        return " ".join(parts)

    @property
    def slots(self) -> tuple[SlotName, ...]:
        return tuple(a.slot for a in self.args)


def _a(slot: SlotName, optional: bool = False, rest: bool = False) -> Arg:
    return Arg(slot, optional, rest)


_SPECS = (
    IntentSpec("status", "health of a cluster's cases", "viewer", False, (_a("cluster", True),)),
    IntentSpec(
        "history",
        "runs of the last 24 hours",
        "viewer",
        False,
        (_a("cluster", True), _a("case", True)),
    ),
    IntentSpec("incidents", "open incidents", "viewer", False, (_a("cluster", True),)),
    IntentSpec(
        "rerun",
        "run a case on a cluster now",
        "operator",
        True,
        (_a("case"), _a("cluster", True)),
        required=("case", "cluster"),
        aliases=("run",),
    ),
    IntentSpec(
        "diagnose",
        "root cause of a run (default: the latest failed one)",
        "viewer",
        False,
        (_a("run", True), _a("case", True), _a("cluster", True)),
    ),
    IntentSpec(
        "silence",
        "mute a cluster's (or a case's) alerts for a while",
        "operator",
        True,
        (_a("cluster", True), _a("case", True), _a("duration_seconds"), _a("reason", True, True)),
        required=("cluster", "duration_seconds"),
        aliases=("mute",),
    ),
    IntentSpec(
        "unsilence",
        "end a silence now",
        "operator",
        True,
        (_a("silence"),),
        required=("silence",),
        aliases=("unmute",),
    ),
    IntentSpec(
        "ack",
        "acknowledge an incident",
        "operator",
        True,
        (_a("incident"), _a("reason", True, True)),
        required=("incident",),
        aliases=("acknowledge",),
    ),
    IntentSpec(
        "resolve",
        "close an incident",
        "operator",
        True,
        (_a("incident"), _a("reason", True, True)),
        required=("incident",),
    ),
    IntentSpec("gate", "release gates of a cluster", "viewer", False, (_a("cluster", True),)),
    IntentSpec(
        "approve",
        "approve a waiting remediation",
        "operator",
        True,
        (_a("remediation"),),
        required=("remediation",),
        remediation=True,
    ),
    IntentSpec(
        "deny",
        "deny a waiting remediation",
        "operator",
        True,
        (_a("remediation"), _a("reason", True, True)),
        required=("remediation",),
        remediation=True,
    ),
    IntentSpec(
        "pause_remediation",
        "stop automatic remediation",
        "operator",
        True,
        (_a("cluster", True), _a("reason", True, True)),
        remediation=True,
    ),
    IntentSpec(
        "resume_remediation",
        "let automatic remediation act again",
        "operator",
        True,
        (_a("cluster", True),),
        remediation=True,
    ),
    IntentSpec("help", "what you may do here", "viewer", False),
)


class IntentRegistry(Mapping[str, IntentSpec]):
    """Intent name → definition, with the command words (``pause-remediation``, aliases) mapped too."""

    def __init__(self, specs: tuple[IntentSpec, ...]) -> None:
        self._by_name: dict[str, IntentSpec] = {}
        self._by_word: dict[str, IntentSpec] = {}
        for spec in specs:
            if spec.name in self._by_name:
                raise ValueError(f"intent {spec.name!r} defined twice")
            self._by_name[spec.name] = spec
            for word in dict.fromkeys((spec.name, spec.command, *spec.aliases)):
                if word in self._by_word:
                    raise ValueError(f"command word {word!r} names two intents")
                self._by_word[word] = spec

    def __getitem__(self, name: str) -> IntentSpec:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def by_word(self, word: str) -> IntentSpec | None:
        return self._by_word.get(word.lower())

    def words(self) -> list[str]:
        return sorted(self._by_word)


INTENTS = IntentRegistry(_SPECS)


def allowed(role: str, spec: IntentSpec) -> bool:
    """Whether a center role may use an intent (unknown roles may do nothing)."""
    return role in ROLE_RANK and ROLE_RANK[role] >= ROLE_RANK[spec.role]
