"""What a spec change is (pure: the watches themselves are :mod:`kubeprobe.center.services.watches`).

A spec change is a change of what the object asks for: everything but ``metadata`` and
``status`` (the ``spec``; ``data`` of a ConfigMap). A status update, a label or an annotation is
not one, so a DaemonSet rolling its pods does not re-trigger. ``metadata.generation`` is the cheap
test (the API server bumps it on spec changes), but not the only one: a Deployment's generation
also moves on annotation changes, and a ConfigMap has none, so when it moved (or is absent) the
content is compared by hash. Objects created or deleted count as changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

Key = tuple[str | None, str]
IGNORED = frozenset({"metadata", "status", "apiVersion", "kind"})


@dataclass(frozen=True)
class Seen:
    generation: int | None
    content: str  # hash of the object without metadata and status


def seen(obj: dict[str, Any], before: Seen | None = None) -> Seen:
    generation = (obj.get("metadata") or {}).get("generation")
    if before is not None and generation is not None and generation == before.generation:
        return before  # same generation: the spec did not change
    text = json.dumps({k: v for k, v in obj.items() if k not in IGNORED}, sort_keys=True, default=str)
    return Seen(generation, hashlib.sha256(text.encode()).hexdigest())


def written_since(obj: dict[str, Any], since: dt.datetime) -> bool:
    """Whether the object was created, or written by anyone but through ``status``, at or after
    ``since`` (by its ``managedFields`` times, which have whole seconds: the second of ``since``
    counts). A label or annotation change counts too: what was missed is run once too often rather
    than not at all."""
    meta = obj.get("metadata") or {}
    floor = since.replace(microsecond=0)
    times = [meta.get("creationTimestamp")] + [
        f.get("time") for f in meta.get("managedFields") or [] if not f.get("subresource")
    ]
    for value in times:
        try:
            if value and dt.datetime.fromisoformat(str(value)) >= floor:
                return True
        except ValueError:
            continue
    return False


@dataclass(frozen=True)
class WatchTarget:
    """Objects to watch: e.g. WatchTarget("apps/v1", "daemonsets", "kube-system")."""

    api_version: str
    plural: str
    namespace: str | None = None
    label_selector: str | None = None
    name: str | None = None

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.label_selector:
            params["labelSelector"] = self.label_selector
        if self.name:
            params["fieldSelector"] = f"metadata.name={self.name}"
        return params

    def describe(self) -> str:
        group = self.api_version.rpartition("/")[0]
        what = f"{self.plural}.{group}" if group else self.plural
        where = f"{self.namespace or '*'}" + (f"/{self.name}" if self.name else "")
        return f"{what}/{where}" + (f"?{self.label_selector}" if self.label_selector else "")


@dataclass(frozen=True)
class SpecChange:
    target: WatchTarget
    kind: str  # ADDED (after the initial list), MODIFIED, DELETED
    namespace: str | None
    name: str
    generation: int | None
