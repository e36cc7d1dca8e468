"""Slots from free text (English and Chinese), and the masked text the classifier sees.

Extraction runs before classification and does not depend on the intent: names are looked up in
the catalog (a name that is not known but close to one is kept as a near miss for "did you
mean ...?"), durations become seconds, run ids, numbers and a reason are found by their shape and
their cue words. The classifier then sees the text with those parts replaced by placeholders
(``zcluster``, ``zdur`` ...), so it learns the phrasing, not the names. Which slot a bare number
fills (incident, silence or remediation) is decided after classification, by the intent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kubeprobe.chatops.catalog import Catalog, NameKind
from kubeprobe.chatops.durations import find_duration
from kubeprobe.chatops.intents import IntentName, SlotName, SlotValue

_NAME = re.compile(
    r"(?<![A-Za-z0-9_#./-])([A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]|[A-Za-z0-9])(?![A-Za-z0-9_-])"
)
_RUN = re.compile(r"^[0-9a-f]{12,32}(?:-verify)?$")
_NUMBER = re.compile(r"(?<![A-Za-z0-9_.-])#?(\d{1,9})(?![A-Za-z0-9_.-])")
_REASON = re.compile(
    r"(?:\bbecause(?:\s+of)?\b|\breason\s*(?:is\b|[:：])|\bdue\s+to\b|原因是(?!什么)|原因[:：]|因为|由于|理由是|理由[:：])"
    r"\s*(.+)$",
    re.IGNORECASE,
)
_COMMA = re.compile(r"[,，;；]")
_ID_CUES: tuple[tuple[SlotName, re.Pattern[str]], ...] = (
    (
        "incident",
        re.compile(r"(?:\bincident|\binc|\balert|事件|故障|告警)\s*#?\s*(\d{1,9})(?!\d)", re.IGNORECASE),
    ),
    ("silence", re.compile(r"(?:\bsilence|\bmute|静默|屏蔽)\s*#?\s*(\d{1,9})(?!\d)", re.IGNORECASE)),
    (
        "remediation",
        re.compile(r"(?:\bremediation|\bfix|\brem|修复|自愈|处置)\s*#?\s*-?(\d{1,9})(?!\d)", re.IGNORECASE),
    ),
)
#: which slot a bare number fills, by intent
NUMBER_SLOT: dict[str, SlotName] = {
    "ack": "incident",
    "resolve": "incident",
    "unsilence": "silence",
    "approve": "remediation",
    "deny": "remediation",
}
#: words that look like names but are not (checked before near-miss suggestions)
_STOP_WORDS = (
    "a an the on in at of for to and or is it me my pls please now hi hey bot kp ok k8s run runs case"
    " cluster clusters probe status"
)
_STOP = frozenset(_STOP_WORDS.split())


@dataclass
class Extraction:
    """What the text holds before the intent is known."""

    names: dict[NameKind, str] = field(default_factory=dict)
    near_misses: dict[NameKind, tuple[str, list[str]]] = field(default_factory=dict)
    duration_seconds: int | None = None
    run: str | None = None
    numbers: list[int] = field(default_factory=list)
    cued: dict[SlotName, int] = field(default_factory=dict)
    reason: str | None = None
    masked: str = ""

    def slots_for(self, intent: IntentName, takes: tuple[SlotName, ...]) -> dict[str, SlotValue]:
        """The slots an intent takes, from what was found."""
        slots: dict[str, SlotValue] = {}
        for kind, name in self.names.items():
            if kind in takes:
                slots[kind] = name
        if self.duration_seconds is not None and "duration_seconds" in takes:
            slots["duration_seconds"] = self.duration_seconds
        if self.run and "run" in takes:
            slots["run"] = self.run
        for slot, value in self.cued.items():
            if slot in takes:
                slots[slot] = value
        target = NUMBER_SLOT.get(intent)
        if target and target not in slots and self.numbers:
            slots[target] = self.numbers[0]
        if self.reason and "reason" in takes:
            slots["reason"] = self.reason
        return slots


_COURTESY = frozenset("thanks thank you thx ty please pls asap 谢谢 多谢 谢了 辛苦 辛苦了".split())  # noqa: SIM905


def _clean_reason(text: str) -> str | None:
    text = text.strip().strip("\"'“”‘’「」").strip()
    text = re.sub(r"[\s.。!！?？]+$", "", text)
    if text.lower() in _COURTESY or text.lower() in ("thank you",):
        return None
    return text[:200] or None


def _reason(text: str, protected: list[tuple[int, int]]) -> tuple[str | None, int]:
    """The reason and where it starts (len(text) when there is none)."""
    m = _REASON.search(text)
    if m:
        return _clean_reason(m.group(1)), m.start()
    for m in _COMMA.finditer(text):
        # a comma reason follows what the command needs and holds none of it
        before = any(end <= m.start() for _, end in protected)
        if before and not any(start >= m.start() for start, _ in protected):
            return _clean_reason(text[m.end() :]), m.start()
    return None, len(text)


def extract(text: str, catalog: Catalog) -> Extraction:
    """Slots and masked text of one message."""
    ex = Extraction()
    spans: list[tuple[int, int, str]] = []
    dur = find_duration(text)
    if dur:
        ex.duration_seconds = dur.seconds
        spans.append((dur.start, dur.end, " zdur "))
    taken = [(s, e) for s, e, _ in spans]

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    for slot, rx in _ID_CUES:
        m = rx.search(text)
        if m and free(m.start(1), m.end(1)):
            ex.cued[slot] = int(m.group(1))
            spans.append((m.start(1), m.end(1), " znum "))
            taken.append((m.start(1), m.end(1)))
    for m in _NAME.finditer(text):
        word = m.group(1)
        if not free(m.start(), m.end()):
            continue
        kind = catalog.kind_of(word)
        if kind and kind not in ex.names:
            ex.names[kind] = catalog.canonical(word)
            spans.append((m.start(), m.end(), f" z{kind} "))
        elif _RUN.match(word) and not word.isdigit() and ex.run is None:
            ex.run = word
            spans.append((m.start(), m.end(), " zrun "))
        elif (
            not word.isdigit()
            and word.lower() not in _STOP
            and ("-" in word or any(c.isdigit() for c in word))
        ):
            for near_kind, name in catalog.suggest(word):
                ex.near_misses.setdefault(near_kind, (word, []))[1].append(name)
                spans.append((m.start(), m.end(), f" z{near_kind} "))
                break
        else:
            continue
        taken.append((m.start(), m.end()))
    for m in _NUMBER.finditer(text):
        if free(m.start(), m.end()):
            ex.numbers.append(int(m.group(1)))
            spans.append((m.start(), m.end(), " znum "))
            taken.append((m.start(), m.end()))
    ex.reason, reason_at = _reason(text, taken)
    spans = [s for s in spans if s[0] < reason_at]
    masked = text[:reason_at] + (" zreason" if ex.reason else "")
    for start, end, token in sorted(spans, reverse=True):
        masked = masked[:start] + token + masked[end:]
    ex.masked = re.sub(r"\s+", " ", masked).strip().lower()
    return ex
