"""The incident lifecycle, as pure logic over in-memory records (the center persists them).

- A FAILED signal opens or updates the incident of its cluster and cause (key
  `cluster/<cluster>/<cause>`): the same case failing again only counts; another case failing with
  the same cause joins it, and with two or more cases the incident's scope becomes `cluster`.
- The same cause on at least `fleet_min_clusters` clusters within `fleet_window_s` makes one fleet
  incident (`fleet/<cause>`) that names what the clusters share (recent changes seen on all of them,
  else the cause and its component); the cluster incidents become its children and stay quiet.
- Correlation in time: a failure whose cause follows from the cause of an incident open on its
  cluster (a controller stalled while the API server is down: :mod:`kubeprobe.analysis.causality`),
  or whose evidence names no cause of its own (``Signal.firm`` false), joins that incident instead
  of opening one; only a failure whose own evidence names a different cause opens another.
- A late analysis never reopens what is over: a failure of a run that started before an incident
  of its cause (or of a cause it follows from) on its cluster resolved is recorded only.
- A PASSED signal resolves that case's part in every open incident, if its run started after the
  case's last failure there (an older pass analysed late proves nothing); an incident whose cases
  all passed resolves. A PASSED signal of a staleness cause (reports resumed) resolves
  only incidents of that cause. A FLAKE is recorded only: it never opens, updates or escalates anything.
- Self-healing that gives up (its breaker opened, its ladder ran out) escalates the incident one
  priority worse, with ``escalated`` to the receivers of the new priority.
- Notices: `firing` once (not when muted, recorded-only or a fleet's child), `escalated` when the
  priority worsens, `reminder` at the priority's interval until acknowledged, `acknowledged`,
  `resolved` (only for incidents someone was told about). A muted incident whose silence ended while
  it still fires is announced then.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from kubeprobe.alerting.signals import Outcome, Signal
from kubeprobe.alerting.silences import Silence, muted
from kubeprobe.alerting.staleness import is_staleness
from kubeprobe.analysis.causality import RECOVERY_S, is_consequence, is_recovery

State = Literal["firing", "acknowledged", "resolved"]
Scope = Literal["case", "cluster", "fleet"]
Event = Literal["firing", "escalated", "reminder", "acknowledged", "resolved"]
QUIET_ACTIONS = frozenset({"record"})


@dataclass(frozen=True)
class AlertingPolicy:
    fleet_min_clusters: int = 3
    fleet_window_s: float = 600.0
    #: causes that never make a fleet incident: "unknown" is not something clusters share
    fleet_excluded_causes: frozenset[str] = frozenset({"unknown"})
    #: seconds between reminders of an unacknowledged incident, by priority (0: none)
    reminder_s: tuple[tuple[str, float], ...] = (("P1", 900.0), ("P2", 3600.0), ("P3", 14400.0), ("P4", 0.0))
    #: a failure joins an open incident of its cluster whose last failure is at most this old
    join_window_s: float = 900.0

    def reminder_interval(self, priority: str) -> float:
        return dict(self.reminder_s).get(priority, 0.0)


@dataclass
class Member:
    """One case on one cluster inside an incident."""

    cluster: str
    case: str
    run_id: str
    run_url: str
    step: str | None
    message: str
    first: dt.datetime
    last: dt.datetime
    failures: int = 1
    resolved: bool = False


@dataclass
class Incident:
    key: str
    scope: Scope
    cause: str
    cluster: str | None
    priority: str
    opened: dt.datetime
    updated: dt.datetime
    last_failure: dt.datetime
    confidence: float = 0.0
    state: State = "firing"
    members: list[Member] = field(default_factory=list)
    cluster_labels: dict[str, str] = field(default_factory=dict)
    recent_changes: list[str] = field(default_factory=list)
    shared: str = ""
    reason: str = ""
    notify: bool = True
    muted_by: int | None = None
    parent_key: str | None = None
    acked_by: str | None = None
    acked_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    last_notified: dt.datetime | None = None
    reminders: int = 0
    id: int | None = None

    @property
    def open(self) -> bool:
        return self.state != "resolved"

    def latest(self) -> Member | None:
        return max(self.members, key=lambda m: m.last, default=None)

    def member(self, cluster: str, case: str) -> Member | None:
        return next((m for m in self.members if m.cluster == cluster and m.case == case), None)

    def clusters(self) -> list[str]:
        return sorted({m.cluster for m in self.members})

    def cases(self) -> list[str]:
        return sorted({m.case for m in self.members})

    def labels(self) -> dict[str, str]:
        """What silences and routes match on."""
        latest = self.latest()
        base = {} if self.scope == "fleet" else dict(self.cluster_labels)
        base.update(cause=self.cause, scope=self.scope, priority=self.priority)
        if self.cluster:
            base["cluster"] = self.cluster
        if latest is not None and self.scope != "fleet":
            base["case"] = latest.case
        return base


@dataclass(frozen=True)
class Notice:
    incident: Incident
    event: Event


@dataclass
class Decision:
    changed: list[Incident] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    note: str = ""

    def touch(self, incident: Incident) -> None:
        if all(i is not incident for i in self.changed):
            self.changed.append(incident)


def _rank(priority: str) -> int:
    return int(priority[1:]) if priority[1:].isdigit() else 9


def worse(a: str, b: str) -> str:
    return a if _rank(a) <= _rank(b) else b


def cluster_key(cluster: str, cause: str) -> str:
    return f"cluster/{cluster}/{cause}"


def fleet_key(cause: str) -> str:
    return f"fleet/{cause}"


def _announce(decision: Decision, incident: Incident, event: Event, now: dt.datetime) -> None:
    if incident.muted_by is not None or not incident.notify or incident.parent_key is not None:
        return
    incident.last_notified = now
    decision.notices.append(Notice(incident, event))


def observe(
    signal: Signal,
    open_incidents: Sequence[Incident],
    silences: Iterable[Silence],
    policy: AlertingPolicy,
    resolved: Sequence[Incident] = (),
) -> Decision:
    """What a signal changes among the open incidents, and who must be told.

    ``resolved``: incidents of the signal's cluster that resolved lately (at least those resolved
    after the signal's run started, or ``RECOVERY_S`` before), so a late failure does not reopen
    their cause and a component's recovery does not open one of its own.
    """
    by_key = {i.key: i for i in open_incidents if i.open}
    if signal.outcome is Outcome.FLAKE:
        return Decision(note="flake: recorded only")
    if signal.outcome is Outcome.PASSED:
        return _passed(signal, list(by_key.values()))
    home = _home(signal, by_key, policy)
    if home is None:
        over = _resolved_after(signal, resolved)
        if over is not None:
            if over.resolved_at is not None and signal.since <= over.resolved_at:
                return Decision(note=f"late: run started before incident {over.key} resolved; recorded only")
            return Decision(note=f"recovery: {signal.cause} as {over.key} recovers; recorded only")
    return _failed(signal, by_key, list(silences), policy, home)


def _home(signal: Signal, by_key: dict[str, Incident], policy: AlertingPolicy) -> Incident | None:
    """The open incident of the signal's cluster this failure belongs to, if not one of its own
    cause: the incident of a cause it follows from, or, when its evidence names no cause, the one
    its case is already part of, else the latest."""
    own = by_key.get(cluster_key(signal.cluster, signal.cause))
    if own is not None:
        return own
    window = signal.at - dt.timedelta(seconds=policy.join_window_s)
    near = [
        i
        for i in by_key.values()
        if i.scope != "fleet" and i.cluster == signal.cluster and i.last_failure >= window
    ]
    roots = [i for i in near if is_consequence(signal.cause, i.cause)]
    if roots:
        return max(roots, key=lambda i: (i.confidence, i.last_failure))
    if signal.firm or not near:
        return None
    mine = [i for i in near if (m := i.member(signal.cluster, signal.case)) is not None and not m.resolved]
    return max(mine or near, key=lambda i: i.last_failure)


def _resolved_after(signal: Signal, resolved: Sequence[Incident]) -> Incident | None:
    """A resolved incident of this cause (or a cause it follows from) on this cluster that was
    still open when the signal's run started."""
    for incident in resolved:
        if incident.scope == "fleet" or incident.cluster != signal.cluster or incident.resolved_at is None:
            continue
        if signal.since <= incident.resolved_at and is_consequence(signal.cause, incident.cause):
            return incident
        recovering = incident.resolved_at + dt.timedelta(seconds=RECOVERY_S)
        if signal.since <= recovering and is_recovery(signal.cause, incident.cause):
            return incident
    return None


def _failed(
    signal: Signal,
    by_key: dict[str, Incident],
    silences: list[Silence],
    policy: AlertingPolicy,
    home: Incident | None = None,
) -> Decision:
    now = signal.at
    decision = Decision()
    silence = muted(silences, signal.labels, now)
    key = cluster_key(signal.cluster, signal.cause)
    incident = home
    new = incident is None
    if home is not None and home.cause != signal.cause:
        decision.note = f"joined {home.key}: {signal.cause} follows from it or names no cause of its own"
    if incident is None:
        incident = Incident(
            key=key,
            scope="case",
            cause=signal.cause,
            cluster=signal.cluster,
            priority=signal.priority,
            opened=now,
            updated=now,
            last_failure=now,
            confidence=signal.confidence,
            notify=signal.action not in QUIET_ACTIONS,
            muted_by=silence.id if silence else None,
        )
        by_key[key] = incident
    before = incident.priority
    _join(incident, signal)
    incident.notify = incident.notify or signal.action not in QUIET_ACTIONS
    if incident.muted_by is not None and silence is None:
        incident.muted_by = None  # its silence is over: this failure is news
        new = new or incident.last_notified is None
    decision.touch(incident)
    fleet = _correlate(incident, by_key, silences, policy, now, decision)
    if fleet is not None:
        decision.note = f"part of fleet incident {fleet.key}"
    if new:
        _announce(decision, incident, "firing", now)
    elif worse(signal.priority, before) != before and incident.last_notified is not None:
        _announce(decision, incident, "escalated", now)
    return decision


def _join(incident: Incident, signal: Signal) -> None:
    now = signal.at
    member = incident.member(signal.cluster, signal.case)
    if member is None:
        member = Member(
            signal.cluster, signal.case, signal.run_id, signal.run_url, signal.step, signal.message, now, now
        )
        incident.members.append(member)
    else:
        member.failures += 1
        member.resolved = False
        member.last = now
        member.run_id, member.run_url = signal.run_id, signal.run_url
        member.step, member.message = signal.step, signal.message
    incident.priority = worse(signal.priority, incident.priority)
    if signal.cause == incident.cause:
        incident.confidence = signal.confidence
        incident.reason = signal.reason
    incident.updated = incident.last_failure = now
    if incident.scope != "fleet":
        incident.cluster_labels = dict(signal.cluster_labels)
        incident.recent_changes = list(signal.recent_changes)
        if len({m.case for m in incident.members if not m.resolved}) > 1:
            incident.scope = "cluster"


def _correlate(  # noqa: PLR0917
    incident: Incident,
    by_key: dict[str, Incident],
    silences: list[Silence],
    policy: AlertingPolicy,
    now: dt.datetime,
    decision: Decision,
) -> Incident | None:
    """Join or open the fleet incident of this cause when enough clusters fail with it at once."""
    cause = incident.cause
    if cause in policy.fleet_excluded_causes:
        return None
    fkey = fleet_key(cause)
    fleet = by_key.get(fkey)
    latest = incident.latest()
    assert latest is not None
    if fleet is not None:
        before = fleet.priority
        incident.parent_key = fkey
        _merge_member(fleet, latest)
        fleet.priority = worse(incident.priority, fleet.priority)
        fleet.confidence = max(fleet.confidence, incident.confidence)
        fleet.updated = fleet.last_failure = now
        decision.touch(fleet)
        if fleet.priority != before and fleet.last_notified is not None:
            _announce(decision, fleet, "escalated", now)
        return fleet
    window = now - dt.timedelta(seconds=policy.fleet_window_s)
    peers = [
        i
        for i in by_key.values()
        if i.scope != "fleet" and i.cause == cause and i.open and i.last_failure >= window
    ]
    if len({i.cluster for i in peers}) < policy.fleet_min_clusters:
        return None
    changes = set(peers[0].recent_changes)
    for peer in peers[1:]:
        changes &= set(peer.recent_changes)
    component = cause.split(".", 1)[0]
    shared = (
        f"recent changes on every cluster: {', '.join(sorted(changes))}"
        if changes
        else f"the same cause {cause} (component: {component}); no change seen on all of them"
    )
    fleet = Incident(
        key=fkey,
        scope="fleet",
        cause=cause,
        cluster=None,
        priority=peers[0].priority,
        opened=now,
        updated=now,
        last_failure=now,
        confidence=max(p.confidence for p in peers),
        recent_changes=sorted(changes),
        shared=shared,
        reason=f"{len({p.cluster for p in peers})} clusters failing with {cause} within "
        f"{policy.fleet_window_s:g}s",
        notify=any(p.notify for p in peers),
    )
    for peer in peers:
        fleet.priority = worse(peer.priority, fleet.priority)
        for m in peer.members:
            if not m.resolved:
                _merge_member(fleet, m)
        peer.parent_key = fkey
        decision.touch(peer)
    silence = muted(silences, fleet.labels(), now)
    all_muted = all(p.muted_by is not None for p in peers)
    fleet.muted_by = silence.id if silence else (peers[0].muted_by if all_muted else None)
    by_key[fkey] = fleet
    decision.touch(fleet)
    _announce(decision, fleet, "firing", now)
    return fleet


def _merge_member(fleet: Incident, m: Member) -> None:
    existing = fleet.member(m.cluster, m.case)
    if existing is None:
        fleet.members.append(Member(**{**m.__dict__}))
        return
    existing.last, existing.resolved = m.last, False
    existing.failures += 1
    existing.run_id, existing.run_url, existing.step, existing.message = (
        m.run_id,
        m.run_url,
        m.step,
        m.message,
    )


def _passed(signal: Signal, open_incidents: list[Incident]) -> Decision:
    decision = Decision()
    # reports resumed: that ends the silence (in its own incident, or in the one of the cause it
    # followed from), not a failure of the same case
    silence = is_staleness(signal.cause)
    # cluster incidents first, so a fleet incident resolves in the same signal as its last child
    for incident in sorted(open_incidents, key=lambda i: i.scope == "fleet"):
        member = incident.member(signal.cluster, signal.case)
        if member is None or member.resolved or signal.since < member.last:
            continue  # a run that started before the case's last failure proves nothing about it
        if silence and member.step != signal.step:
            continue
        member.resolved = True
        incident.updated = signal.at
        decision.touch(incident)
        if all(m.resolved for m in incident.members):
            incident.state = "resolved"
            incident.resolved_at = signal.at
            if incident.last_notified is not None:
                incident.last_notified = signal.at
                decision.notices.append(Notice(incident, "resolved"))
    return decision


def acknowledge(incident: Incident, children: Iterable[Incident], who: str, now: dt.datetime) -> Decision:
    """An operator has it: reminders stop; a fleet incident's children are acknowledged with it."""
    decision = Decision()
    for target in (incident, *children):
        if target.state != "firing":
            continue
        target.state, target.acked_by, target.acked_at, target.updated = "acknowledged", who, now, now
        decision.touch(target)
        if target.last_notified is not None:
            decision.notices.append(Notice(target, "acknowledged"))
    return decision


def escalate(incident: Incident, why: str, now: dt.datetime) -> Decision:
    """Self-healing gave up on it (the breaker opened, the ladder ran out): one priority worse
    (P1 stays P1), the reason says why, and the receivers of its new priority hear ``escalated``."""
    decision = Decision()
    if not incident.open or f"escalated: {why}" in incident.reason:
        return decision  # once per reason: the same open breaker seen again changes nothing
    rank = _rank(incident.priority)
    incident.priority = f"P{max(1, rank - 1)}" if rank < 9 else "P1"
    incident.reason = f"{incident.reason}; escalated: {why}" if incident.reason else f"escalated: {why}"
    incident.updated = now
    decision.touch(incident)
    _announce(decision, incident, "escalated", now)
    return decision


def tick(
    open_incidents: Iterable[Incident], silences: Iterable[Silence], now: dt.datetime, policy: AlertingPolicy
) -> Decision:
    """Reminders that are due, and muted incidents whose silence is over while they still fire."""
    decision = Decision()
    active = list(silences)
    for incident in open_incidents:
        if incident.state != "firing" or incident.parent_key is not None or not incident.notify:
            continue
        if incident.muted_by is not None:
            if muted(active, incident.labels(), now) is None:
                incident.muted_by = None
                decision.touch(incident)
                _announce(decision, incident, "firing", now)
            continue
        interval = policy.reminder_interval(incident.priority)
        last = incident.last_notified
        if interval > 0 and last is not None and (now - last).total_seconds() >= interval:
            incident.reminders += 1
            decision.touch(incident)
            _announce(decision, incident, "reminder", now)
    return decision
