"""The incident lifecycle: dedup, grouping per cluster, fleet correlation, resolve, flakes, reminders, ack."""

from __future__ import annotations

import datetime as dt

from kubeprobe.alerting.incidents import AlertingPolicy, Decision, Incident, acknowledge, observe, tick
from kubeprobe.alerting.matchers import Matcher
from kubeprobe.alerting.signals import Outcome, Signal
from kubeprobe.alerting.silences import Silence

from .helpers import T0, signal

POLICY = AlertingPolicy(fleet_min_clusters=3, fleet_window_s=600)


class Book:
    """Open incidents kept between signals, as the store would."""

    def __init__(self, silences: list[Silence] | None = None, policy: AlertingPolicy = POLICY) -> None:
        self.incidents: dict[str, Incident] = {}
        self.silences = silences or []
        self.policy = policy
        self.next_id = 1

    def feed(self, s: Signal) -> Decision:
        d = observe(s, list(self.incidents.values()), self.silences, self.policy)
        self._keep(d)
        return d

    def _keep(self, d: Decision) -> None:
        for inc in d.changed:
            if inc.id is None:
                inc.id, self.next_id = self.next_id, self.next_id + 1
            self.incidents[inc.key] = inc
            if not inc.open:
                del self.incidents[inc.key]

    def events(self, d: Decision) -> list[tuple[str, str]]:
        return [(n.incident.key, n.event) for n in d.notices]


def test_first_failure_fires_and_repeats_only_count() -> None:
    book = Book()
    d = book.feed(signal())
    assert book.events(d) == [("cluster/c1/scheduling.scheduler_down", "firing")]
    d = book.feed(signal(minutes=1))
    assert d.notices == []
    (inc,) = book.incidents.values()
    assert inc.scope == "case"
    assert inc.members[0].failures == 2
    assert inc.last_failure == T0 + dt.timedelta(minutes=1)


def test_other_cause_is_another_incident() -> None:
    book = Book()
    book.feed(signal())
    d = book.feed(signal(cause="admission.webhook_failure"))
    assert book.events(d) == [("cluster/c1/admission.webhook_failure", "firing")]
    assert len(book.incidents) == 2


def test_many_cases_one_cause_in_one_cluster_make_one_cluster_incident() -> None:
    book = Book()
    book.feed(signal(case="pod"))
    d = book.feed(signal(case="deployment", minutes=1))
    assert d.notices == []  # no second page for the same cause in the same cluster
    (inc,) = book.incidents.values()
    assert inc.scope == "cluster"
    assert inc.cases() == ["deployment", "pod"]


def test_worse_priority_escalates() -> None:
    book = Book()
    book.feed(signal(priority="P3"))
    d = book.feed(signal(priority="P1", minutes=1))
    assert book.events(d) == [("cluster/c1/scheduling.scheduler_down", "escalated")]
    assert book.incidents["cluster/c1/scheduling.scheduler_down"].priority == "P1"


def test_resolves_when_every_case_passed() -> None:
    book = Book()
    book.feed(signal(case="pod"))
    book.feed(signal(case="deployment"))
    d = book.feed(signal(case="pod", outcome=Outcome.PASSED, minutes=2))
    assert d.notices == []
    assert len(book.incidents) == 1
    d = book.feed(signal(case="deployment", outcome=Outcome.PASSED, minutes=3))
    assert book.events(d) == [("cluster/c1/scheduling.scheduler_down", "resolved")]
    assert d.changed[0].resolved_at == T0 + dt.timedelta(minutes=3)
    assert book.incidents == {}


def test_flake_is_recorded_only() -> None:
    book = Book()
    d = book.feed(signal(outcome=Outcome.FLAKE, priority="P1"))
    assert d.changed == []
    assert d.notices == []
    assert "flake" in d.note
    book.feed(signal())
    d = book.feed(signal(outcome=Outcome.FLAKE, priority="P1", minutes=1))
    assert d.changed == []
    assert d.notices == []
    assert book.incidents["cluster/c1/scheduling.scheduler_down"].priority == "P2"


def test_record_only_action_opens_quietly() -> None:
    book = Book()
    d = book.feed(signal(action="record", priority="P4"))
    assert d.notices == []
    assert len(d.changed) == 1
    assert tick(book.incidents.values(), [], T0 + dt.timedelta(days=1), POLICY).notices == []


def test_fleet_incident_names_the_shared_change() -> None:
    book = Book()
    book.feed(signal("c1", recent_changes=("release-42", "cm-a")))
    book.feed(signal("c2", minutes=1, recent_changes=("release-42",)))
    d = book.feed(signal("c3", minutes=2, recent_changes=("release-42", "cm-b")))
    assert book.events(d) == [("fleet/scheduling.scheduler_down", "firing")]  # c3's own firing is folded in
    fleet = book.incidents["fleet/scheduling.scheduler_down"]
    assert fleet.scope == "fleet"
    assert fleet.clusters() == ["c1", "c2", "c3"]
    assert fleet.recent_changes == ["release-42"]
    assert "release-42" in fleet.shared
    children = [i for i in book.incidents.values() if i.parent_key == fleet.key]
    assert len(children) == 3
    # a fourth cluster joins quietly
    d = book.feed(signal("c4", minutes=3))
    assert d.notices == []
    assert fleet.clusters() == ["c1", "c2", "c3", "c4"]


def test_fleet_without_shared_change_names_cause_and_component() -> None:
    book = Book()
    for i, change in enumerate(("a", "b", "c")):
        book.feed(signal(f"c{i}", cause="etcd.unavailable", minutes=i, recent_changes=(change,)))
    fleet = book.incidents["fleet/etcd.unavailable"]
    assert fleet.recent_changes == []
    assert "etcd.unavailable" in fleet.shared
    assert "component: etcd" in fleet.shared


def test_fleet_needs_failures_within_the_window() -> None:
    book = Book()
    book.feed(signal("c1"))
    book.feed(signal("c2", minutes=5))
    book.feed(signal("c3", minutes=20))  # c1 failed 20 minutes ago: outside 10 minutes
    assert "fleet/scheduling.scheduler_down" not in book.incidents
    book.feed(signal("c2", minutes=21))
    book.feed(signal("c1", minutes=22))
    assert "fleet/scheduling.scheduler_down" in book.incidents


def test_unknown_cause_never_makes_a_fleet_incident() -> None:
    book = Book()
    for i in range(4):
        book.feed(signal(f"c{i}", cause="unknown"))
    assert not any(k.startswith("fleet/") for k in book.incidents)


def test_fleet_resolves_with_its_last_cluster() -> None:
    book = Book()
    for i in range(3):
        book.feed(signal(f"c{i}"))
    for i in range(2):
        d = book.feed(signal(f"c{i}", outcome=Outcome.PASSED, minutes=5))
        assert ("fleet/scheduling.scheduler_down", "resolved") not in book.events(d)
    d = book.feed(signal("c2", outcome=Outcome.PASSED, minutes=6))
    assert ("fleet/scheduling.scheduler_down", "resolved") in book.events(d)
    assert book.incidents == {}


def test_reminders_by_priority_until_acknowledged() -> None:
    policy = AlertingPolicy(reminder_s=(("P1", 600.0), ("P2", 3600.0), ("P4", 0.0)))
    book = Book(policy=policy)
    book.feed(signal("c1", priority="P1"))
    book.feed(signal("c2", priority="P2"))
    book.feed(signal("c3", priority="P4", cause="node.pressure"))
    later = T0 + dt.timedelta(minutes=11)
    d = tick(book.incidents.values(), [], later, policy)
    assert [(n.incident.cluster, n.event) for n in d.notices] == [("c1", "reminder")]
    assert tick(book.incidents.values(), [], later + dt.timedelta(minutes=1), policy).notices == []
    much_later = T0 + dt.timedelta(hours=2)
    d = tick(book.incidents.values(), [], much_later, policy)
    assert sorted(n.incident.cluster or "" for n in d.notices) == ["c1", "c2"]  # never P4
    inc = book.incidents["cluster/c1/scheduling.scheduler_down"]
    d = acknowledge(inc, [], "alice", much_later)
    assert [(n.event) for n in d.notices] == ["acknowledged"]
    assert inc.state == "acknowledged"
    assert inc.acked_by == "alice"
    d = tick(book.incidents.values(), [], much_later + dt.timedelta(hours=5), policy)
    assert "c1" not in [n.incident.cluster for n in d.notices]


def test_acknowledging_a_fleet_acknowledges_its_children() -> None:
    book = Book()
    for i in range(3):
        book.feed(signal(f"c{i}"))
    fleet = book.incidents["fleet/scheduling.scheduler_down"]
    children = [i for i in book.incidents.values() if i.parent_key == fleet.key]
    d = acknowledge(fleet, children, "bob", T0)
    assert {i.state for i in (fleet, *children)} == {"acknowledged"}
    # children of the first two clusters had fired before the fleet formed, so they hear of it too
    assert sorted(n.incident.key for n in d.notices)[0] == "cluster/c0/scheduling.scheduler_down"


def test_mute_records_without_notifying_then_announces_when_the_silence_ends() -> None:
    silence = Silence(1, (Matcher("cluster", "=", "c1"),), "mute", T0, T0 + dt.timedelta(hours=1))
    book = Book([silence])
    d = book.feed(signal("c1"))
    assert d.notices == []
    assert len(d.changed) == 1
    inc = book.incidents["cluster/c1/scheduling.scheduler_down"]
    assert inc.muted_by == 1
    assert tick(book.incidents.values(), [silence], T0 + dt.timedelta(minutes=30), POLICY).notices == []
    d = tick(book.incidents.values(), [silence], T0 + dt.timedelta(hours=2), POLICY)
    assert [n.event for n in d.notices] == ["firing"]
    # a muted incident that resolves before anyone was told resolves quietly
    book2 = Book([silence])
    book2.feed(signal("c1"))
    d = book2.feed(signal("c1", outcome=Outcome.PASSED, minutes=5))
    assert d.notices == []
    assert book2.incidents == {}


def test_silence_of_other_cluster_does_not_mute() -> None:
    silence = Silence(1, (Matcher("cluster", "=", "c9"),), "mute", T0, T0 + dt.timedelta(hours=1))
    book = Book([silence])
    assert [n.event for n in book.feed(signal("c1")).notices] == ["firing"]
