"""What a case is: a template's kind and runtime plus rendered parameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class CaseKind(StrEnum):
    PROBE = "probe"
    INSPECTION = "inspection"


@dataclass(frozen=True)
class CaseSpec:
    """A runnable case: template name and kind, how it runs, its parameters and timeout.

    Exactly one of ``entry_point`` ("package.module:function") or ``image`` (with ``command``).
    ``rbac_rules`` are the Kubernetes PolicyRules the case needs in its cluster; the pod runner
    grants exactly these to the template's ServiceAccount.
    """

    name: str
    template: str
    kind: CaseKind
    timeout_seconds: float
    params: dict[str, Any] = field(default_factory=dict)
    entry_point: str | None = None
    image: str | None = None
    command: tuple[str, ...] = ()
    rbac_rules: tuple[dict[str, Any], ...] = ()
