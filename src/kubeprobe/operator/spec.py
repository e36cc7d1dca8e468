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


#: Defaults chosen so that a broken path is failing within 10 s without false alarms: a run every
#: ``DEFAULT_INTERVAL_S``, each limited to ``default_timeout`` (three quarters of the interval, at
#: most ``MAX_DEFAULT_TIMEOUT_S``: a healthy API server answers in milliseconds, a pod is bound in
#: well under a second), failing after ``Rules()`` = 2 of the last 3 runs. A hung run ends before
#: the next tick, so that tick is not skipped (with a limit equal to the interval it always was): a
#: path that hangs fails its second run at most interval x 2 + timeout = 5.5 s after it broke (was
#: 8 s). One slow run alone is never an alarm. bench/fault_suite.py measures both (time to
#: incident, fault-free noise).
DEFAULT_INTERVAL_S = 2.0
MAX_DEFAULT_TIMEOUT_S = 2.0
TIMEOUT_SHARE = 0.75


def default_timeout(interval: float) -> float:
    """A run's limit when the spec gives none: ends before the next tick of ``interval``."""
    return min(MAX_DEFAULT_TIMEOUT_S, interval * TIMEOUT_SHARE)


DEFAULT_TIMEOUT_S = default_timeout(DEFAULT_INTERVAL_S)


@dataclass(frozen=True)
class ProbeConfigSpec:
    namespace: str
    name: str
    probe: str
    interval: float = DEFAULT_INTERVAL_S
    timeout: float = DEFAULT_TIMEOUT_S
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
    interval = _num(spec, "intervalSeconds", DEFAULT_INTERVAL_S, 1.0)
    timeout = _num(spec, "timeoutSeconds", default_timeout(interval), 0.05)
    if timeout > interval:
        raise SpecError(f"spec.timeoutSeconds: {timeout} must not exceed intervalSeconds {interval}")
    fr = spec.get("failureRule") or {}
    rr = spec.get("recoveryRule") or {}
    budget = spec.get("reportBudget") or {}
    try:
        rules = Rules(
            failures=int(fr.get("failures", Rules.failures)),
            window=int(fr.get("window", Rules.window)),
            successes=int(rr.get("successes", Rules.successes)),
            flap_changes=int(spec.get("flapChanges", Rules.flap_changes)),
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
