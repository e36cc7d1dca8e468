"""What a check is: which resources it needs, what it keeps of each object, the findings it draws.

A check is a class; the engine makes a fresh instance per sweep, so the instance is the check's
memory for that sweep. The engine calls, in order:

1. ``gather(kube)`` — optional extra reads that are not LISTs (``/version``, ``/metrics``, a TLS
   handshake, an inventory file), run alongside the LISTs unless ``gather_first`` says that
   ``observe`` needs them; raising :class:`CheckSkipped` says the check does not apply (an input
   it needs was not configured);
2. ``observe(resource, obj)`` — once per object of every resource in ``needs``, while the pages
   stream past (keep only what the findings need: memory must not grow with the cluster); the
   engine calls ``observe_page(resource, items)``, which calls ``observe`` for each object;
3. ``findings(sweep)`` — the findings, after every LIST ended.

A field selector in a need is a hint to shrink the LIST; ``observe`` still filters by itself,
because the engine drops a selector when another check wants the same resource unfiltered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from kubeprobe.cases.inspections.objects import labels as labels_of
from kubeprobe.cases.inspections.objects import ref
from kubeprobe.cases.inspections.settings import InspectionSettings, default_settings
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.collect import Need, Resource, Sweep
from kubeprobe.kube.config import ClusterConnection
from kubeprobe.model import Finding, ObjectRef, Severity

Obj = dict[str, Any]


@dataclass(frozen=True)
class CheckContext:
    """What every check of one sweep of one cluster shares."""

    cluster: str
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    settings: InspectionSettings = field(default_factory=default_settings)
    connection: ClusterConnection | None = None


class Check:
    """Base of every check; subclasses set the class attributes and override the hooks."""

    id: ClassVar[str]
    title: ClassVar[str]
    severity: ClassVar[Severity]
    hint: ClassVar[str] = ""
    needs: ClassVar[tuple[Need, ...]] = ()
    #: True when ``observe`` needs what ``gather`` read; otherwise gather overlaps with the LISTs.
    gather_first: ClassVar[bool] = False

    def __init__(self, ctx: CheckContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.now = ctx.now

    def wants(self) -> tuple[Need, ...]:
        """The needs of this instance (default: the class's ``needs``; settings may change them)."""
        return self.needs

    async def gather(self, kube: KubeClient) -> None:
        """Extra reads before the sweep (default: none)."""
        return None

    def observe(self, resource: Resource, obj: Obj) -> None:
        """One object of a needed resource (default: ignore)."""
        return None

    def observe_page(self, resource: Resource, items: list[Obj]) -> None:
        """One page of a needed resource; what the engine calls (default: ``observe`` on each
        object). A check that ignores a whole resource says so here, once per page."""
        observe = self.observe
        for obj in items:
            observe(resource, obj)

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        raise NotImplementedError

    # -- helpers for subclasses ----------------------------------------------------------------
    def finding(
        self,
        obj: ObjectRef | None,
        message: str,
        *,
        severity: Severity | None = None,
        hint: str | None = None,
        labels: dict[str, str] | None = None,
        **details: Any,
    ) -> Finding:
        if labels:
            details["labels"] = labels
        return Finding(
            check_id=self.id,
            severity=severity or self.severity,
            object=obj,
            message=message,
            hint=self.hint if hint is None else hint,
            cluster=self.ctx.cluster,
            details=details,
        )

    def finding_for(self, resource: Resource, obj: Obj, message: str, **kwargs: Any) -> Finding:
        """A finding about a raw object, carrying its labels for exclusions."""
        return self.finding(ref(resource, obj), message, labels=labels_of(obj) or None, **kwargs)


class FleetCheck(Check):
    """A check that also compares clusters: each sweep yields a fingerprint of named objects
    (name → digest); :meth:`compare` turns the fleet's fingerprints into findings."""

    def fingerprint(self) -> dict[str, str]:
        raise NotImplementedError

    @classmethod
    def compare(
        cls, prints: dict[str, dict[str, str]], baseline: str | None, ctx: CheckContext
    ) -> list[Finding]:
        raise NotImplementedError
