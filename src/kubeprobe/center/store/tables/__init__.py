"""Tables of the center, one module per area; every table is importable from here. Migrations in
migrations/versions must match these (a test checks it).

- base: `Base`, UTC datetimes, naming convention, latency buckets, `table_of`
- catalog: clusters, cluster groups, case templates, cases, suites, bindings
- runs: runs (steps inline), run findings, case status (latest run per case x cluster)
- rollups: hourly and daily rollups, center state (watermarks)
- access: API tokens, audit log
- analysis: run analysis, RCA feedback
- alerting: incidents and their signals, silences, receivers, routes, deliveries
- resident: resident probes' reports
- remedy: the defender's shared state (compare-and-set) and its append-only audit
- ha: leases (replica liveness, cluster owners, the singletons' leader)

Runs carry what running cases needs: a deadline, the hash of a report token valid for that run
only, and `reported_at` so that a second report changes nothing. `case_status` holds the latest
run per case x cluster, `rollups` hourly and `daily_rollups` daily aggregates, so health and
history stay fast. Both rollups count latencies in the same fixed buckets (LATENCY_BUCKETS_MS), so
hours add up to days and days to any window exactly, and percentiles come from summed buckets.
"""

from kubeprobe.center.store.tables.access import ApiToken, AuditEntry
from kubeprobe.center.store.tables.alerting import (
    DeliveryRow,
    IncidentRow,
    IncidentSignal,
    ReceiverRow,
    RouteRow,
    SilenceRow,
)
from kubeprobe.center.store.tables.analysis import RcaFeedback, RunAnalysis
from kubeprobe.center.store.tables.base import BUCKET_COLUMNS, LATENCY_BUCKETS_MS, Base, UTCDateTime, table_of
from kubeprobe.center.store.tables.catalog import (
    Binding,
    Case,
    CaseTemplate,
    Cluster,
    ClusterGroup,
    Suite,
    SuiteCase,
)
from kubeprobe.center.store.tables.ha import Lease
from kubeprobe.center.store.tables.remedy import DefenderStateRow, RemediationRow, RemedyAuditRow
from kubeprobe.center.store.tables.resident import ResidentReport
from kubeprobe.center.store.tables.rollups import CenterState, DailyRollup, LatencyBuckets, Rollup
from kubeprobe.center.store.tables.runs import CaseStatus, Run, RunFinding

__all__ = [
    "BUCKET_COLUMNS",
    "LATENCY_BUCKETS_MS",
    "ApiToken",
    "AuditEntry",
    "Base",
    "Binding",
    "Case",
    "CaseStatus",
    "CaseTemplate",
    "CenterState",
    "Cluster",
    "ClusterGroup",
    "DailyRollup",
    "DefenderStateRow",
    "DeliveryRow",
    "IncidentRow",
    "IncidentSignal",
    "LatencyBuckets",
    "Lease",
    "RcaFeedback",
    "ReceiverRow",
    "RemediationRow",
    "RemedyAuditRow",
    "ResidentReport",
    "Rollup",
    "RouteRow",
    "Run",
    "RunAnalysis",
    "RunFinding",
    "SilenceRow",
    "Suite",
    "SuiteCase",
    "UTCDateTime",
    "table_of",
]
