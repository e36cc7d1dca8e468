"""Small readers of raw Kubernetes JSON shared by the checks: references, labels, times."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kubeprobe.kube.collect import Resource
from kubeprobe.model import ObjectRef

Obj = dict[str, Any]


def meta(obj: Obj) -> Obj:
    m: Obj = obj.get("metadata") or {}
    return m


def ref(resource: Resource, obj: Obj) -> ObjectRef:
    m = meta(obj)
    return ObjectRef(
        kind=resource.kind or str(obj.get("kind") or resource.plural),
        name=str(m.get("name") or ""),
        namespace=m.get("namespace") or None,
        api_version=resource.api_version,
        uid=m.get("uid") or None,
    )


def labels(obj: Obj) -> dict[str, str]:
    return dict(meta(obj).get("labels") or {})


def parse_time(value: Any) -> dt.datetime | None:
    """An RFC 3339 timestamp of the API (``2024-01-02T03:04:05Z``), or None."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def age_seconds(value: Any, now: dt.datetime) -> float | None:
    when = parse_time(value)
    return None if when is None else (now - when).total_seconds()


def human_age(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


_SUFFIXES = {
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "": 1.0,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
    "Ei": 2.0**60,
}


def quantity(value: Any) -> float | None:
    """A Kubernetes quantity (``100m``, ``2Gi``, ``1e3``, ``5``) as a float, or None."""
    text = str(value).strip()
    if not text:
        return None
    for suffix in ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E"):
        if text.endswith(suffix) and not (suffix == "E" and "e" in text.lower()[:-1]):
            number = text[: -len(suffix)]
            break
    else:
        suffix, number = "", text
    try:
        return float(number) * _SUFFIXES[suffix]
    except ValueError:
        return None
