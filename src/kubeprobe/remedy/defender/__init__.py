"""The defender: risk control every remediation passes first.

settings.py   caps, rate limits, storm and breaker rules, lease length (grouped dataclasses)
requests.py   Request, Target, Observation (what the center sees), Decision, Denial, Page, Lease
state.py      the shared state (slots with leases, buckets, breakers, pauses, storms) and AuditRecord
rules.py      `evaluate`: every check, pure, on a private copy of the state
outcomes.py   outcomes and the breaker, release, renew, pause/resume, pruning (pure)
store.py      the DefenderStore contract (compare-and-set + append-only audit) and its in-memory form
service.py    `Defender`: the rules over a shared store for one center replica
"""

from kubeprobe.remedy.defender.requests import (
    ClusterHealth,
    Decision,
    Denial,
    Lease,
    Mode,
    Observation,
    Outcome,
    Page,
    Request,
    RiskTier,
    StaticClusterHealth,
    Target,
)
from kubeprobe.remedy.defender.service import Defender
from kubeprobe.remedy.defender.settings import (
    BreakerSettings,
    CapSettings,
    DefenderSettings,
    RateSettings,
    StormSettings,
)
from kubeprobe.remedy.defender.state import AuditRecord, DefenderState
from kubeprobe.remedy.defender.store import DefenderStore, MemoryDefenderStore

__all__ = [
    "AuditRecord",
    "BreakerSettings",
    "CapSettings",
    "ClusterHealth",
    "Decision",
    "Defender",
    "DefenderSettings",
    "DefenderState",
    "DefenderStore",
    "Denial",
    "Lease",
    "MemoryDefenderStore",
    "Mode",
    "Observation",
    "Outcome",
    "Page",
    "RateSettings",
    "Request",
    "RiskTier",
    "StaticClusterHealth",
    "StormSettings",
    "Target",
]
