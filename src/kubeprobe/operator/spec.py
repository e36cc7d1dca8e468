"""A ProbeConfig's spec as frozen records, validated again here (the CRD schema validates first)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict

from kubeprobe.model import Severity
from kubeprobe.operator.denoise import Rules

GROUP = "kubeprobe.io"
VERSION = "v1"
PLURAL = "probeconfigs"
API_VERSION = f"{GROUP}/{VERSION}"


class SpecError(ValueError):
    """A ProbeConfig spec that cannot run; the message names the field."""


class ProbeConfigBody(TypedDict, total=False):
    """The raw JSON of a ProbeConfig object (only what the operator reads)."""

    apiVersion: str
    kind: str
    metadata: dict[str, Any]
    spec: dict[str, Any]
    status: dict[str, Any]


@dataclass(frozen=True)
class Budget:
    """The config's report budget: ``rate`` reports per second, bursts of ``burst``."""

    rate: float = 1.0
    burst: int = 10


@dataclass(frozen=True)
class ProbeConfigSpec:
    namespace: str
    name: str
    probe: str
    interval: float = 10.0
    timeout: float = 5.0
    rules: Rules = field(default_factory=Rules)
    budget: Budget = field(default_factory=Budget)
    summary_interval: float = 60.0
    severity: Severity = Severity.MEDIUM
    case: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def case_name(self) -> str:
        """The case the center files this config's reports under."""
        return self.case or f"resident-{self.namespace}-{self.name}"[:63].rstrip("-")


def _num(spec: dict[str, Any], name: str, default: float, low: float) -> float:
    value = spec.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low:
        raise SpecError(f"spec.{name}: {value!r} must be a number >= {low}")
    return float(value)


def parse_spec(namespace: str, name: str, spec: dict[str, Any]) -> ProbeConfigSpec:
    """Parse and check ``spec``; raise :class:`SpecError` with the field at fault."""
    probe = spec.get("probe")
    if not isinstance(probe, str) or not probe:
        raise SpecError("spec.probe: required, e.g. 'apiserver-read'")
    interval = _num(spec, "intervalSeconds", 10.0, 1.0)
    timeout = _num(spec, "timeoutSeconds", min(interval, 5.0), 0.05)
    if timeout > interval:
        raise SpecError(f"spec.timeoutSeconds: {timeout} must not exceed intervalSeconds {interval}")
    fr = spec.get("failureRule") or {}
    rr = spec.get("recoveryRule") or {}
    budget = spec.get("reportBudget") or {}
    try:
        rules = Rules(
            failures=int(fr.get("failures", 3)),
            window=int(fr.get("window", 5)),
            successes=int(rr.get("successes", 2)),
            flap_changes=int(spec.get("flapChanges", 4)),
        )
        severity = Severity(spec.get("severity", "medium"))
    except (TypeError, ValueError) as exc:
        raise SpecError(f"spec: {exc}") from exc
    params = spec.get("params") or {}
    if not isinstance(params, dict):
        raise SpecError("spec.params: must be an object")
    return ProbeConfigSpec(
        namespace=namespace,
        name=name,
        probe=probe,
        interval=interval,
        timeout=timeout,
        rules=rules,
        budget=Budget(rate=_num(budget, "rate", 1.0, 0.001), burst=int(_num(budget, "burst", 10, 1))),
        summary_interval=_num(spec, "summaryIntervalSeconds", 60.0, 1.0),
        severity=severity,
        case=str(spec.get("case") or ""),
        params=dict(params),
    )
