"""Durations in English and Chinese, normalised to seconds, and back to the compact form of commands.

``2h``, ``1h30m``, ``90 seconds``, ``an hour``, ``half an hour``, ``1.5 hours``, ``两小时``,
``两个半小时``, ``半小时``, ``30分钟``, ``一天``, ``十五分钟``. :func:`find_duration` returns the
first duration in a text with its span, so the caller can mask it before classifying.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_EN_UNITS: dict[str, int] = {}
for _words, _secs in (
    (("s", "sec", "secs", "second", "seconds"), 1),
    (("m", "min", "mins", "minute", "minutes"), 60),
    (("h", "hr", "hrs", "hour", "hours"), 3600),
    (("d", "day", "days"), 86400),
    (("w", "wk", "week", "weeks"), 604800),
):
    for _w in _words:
        _EN_UNITS[_w] = _secs
_ZH_UNITS = {
    "秒": 1,
    "秒钟": 1,
    "分钟": 60,
    "小时": 3600,
    "个小时": 3600,
    "钟头": 3600,
    "个钟头": 3600,
    "天": 86400,
    "日": 86400,
    "周": 604800,
    "星期": 604800,
    "个星期": 604800,
}
_EN_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "ten": 10,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty-five": 45,
    "ninety": 90,
}
_ZH_DIGITS = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_ZH_NUM = "[零一二两三四五六七八九十百]+"
_NUM = r"\d+(?:\.\d+)?"
_EN_UNIT = "|".join(sorted(_EN_UNITS, key=len, reverse=True))
_EN_WORD = "|".join(sorted(_EN_WORDS, key=len, reverse=True))
_ZH_UNIT = "|".join(sorted(_ZH_UNITS, key=len, reverse=True))

_END = "(?![A-Za-z_])"
# 1h30m / 2h / 90s / 1.5 hours / 2 hrs and 30 mins
_EN_NUMERIC = re.compile(
    rf"(?<![A-Za-z0-9_.-])(?:{_NUM}\s*(?:{_EN_UNIT}){_END}(?:\s*(?:and\s+)?{_NUM}\s*(?:{_EN_UNIT}){_END})*)"
    r"(?![A-Za-z0-9_])",
    re.IGNORECASE,
)
_EN_PART = re.compile(rf"({_NUM})\s*({_EN_UNIT}){_END}", re.IGNORECASE)
# an hour / two days / half an hour / an hour and a half
_EN_WORDY = re.compile(
    rf"(?<![A-Za-z0-9_])(?:(half\s+an?\s+(?:hour|day))|({_EN_WORD})\s+({_EN_UNIT})(\s+and\s+a\s+half)?){_END}",
    re.IGNORECASE,
)
# 两个半小时 / 2小时 / 30 分钟 / 半小时 / 一个半小时 / 1天
_ZH = re.compile(rf"(?:({_NUM}|{_ZH_NUM})\s*(个)?(半)?\s*({_ZH_UNIT})(半)?|(半)\s*(个)?\s*(小时|钟头|天))")
_ZH_QUARTER = re.compile(r"([一两三]|\d)\s*刻钟")


@dataclass(frozen=True)
class FoundDuration:
    seconds: int
    start: int
    end: int


def zh_number(text: str) -> int:
    """Chinese numerals up to the hundreds: 十五 → 15, 二十 → 20, 两百 → 200."""
    if text.isdigit():
        return int(text)
    total, current = 0, 0
    for ch in text:
        if ch in _ZH_DIGITS:
            current = _ZH_DIGITS[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
    return total + current


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float(zh_number(text))


def find_duration(text: str) -> FoundDuration | None:
    """The first duration in ``text`` (English or Chinese), or None."""
    found: list[FoundDuration] = []
    m = _EN_NUMERIC.search(text)
    if m:
        secs = sum(float(n) * _EN_UNITS[u.lower()] for n, u in _EN_PART.findall(m.group(0)))
        found.append(FoundDuration(round(secs), m.start(), m.end()))
    m = _EN_WORDY.search(text)
    if m:
        if m.group(1):
            secs = 1800 if "hour" in m.group(1).lower() else 43200
        else:
            half = 0.5 if m.group(4) else 0.0
            secs = (_EN_WORDS[m.group(2).lower()] + half) * _EN_UNITS[m.group(3).lower()]
        found.append(FoundDuration(round(secs), m.start(), m.end()))
    m = _ZH.search(text)
    if m:
        if m.group(6):
            secs = 0.5 * _ZH_UNITS[m.group(8)]
        else:
            half = 0.5 if (m.group(3) or m.group(5)) else 0.0
            secs = (_number(m.group(1)) + half) * _ZH_UNITS[m.group(4)]
        found.append(FoundDuration(round(secs), m.start(), m.end()))
    m = _ZH_QUARTER.search(text)
    if m:
        found.append(FoundDuration(int(_number(m.group(1)) * 900), m.start(), m.end()))
    found = [f for f in found if f.seconds > 0]
    return min(found, key=lambda f: f.start) if found else None


def parse_duration(text: str) -> int | None:
    """A whole text that is one duration → seconds; None when it is not exactly a duration."""
    found = find_duration(text.strip())
    if found is None or found.start != 0 or found.end != len(text.strip()):
        return None
    return found.seconds


def format_duration(seconds: int) -> str:
    """Compact form for commands: 7200 → 2h, 5400 → 1h30m, 90 → 1m30s, 86400 → 1d."""
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
