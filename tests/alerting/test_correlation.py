"""Correlation in time: consequences and undecided failures join the open incident of their
cluster, a late failure never reopens a resolved cause, and only a newer pass resolves."""

from __future__ import annotations

import datetime as dt

from kubeprobe.alerting.incidents import Incident, observe
from kubeprobe.alerting.signals import Outcome

from .helpers import T0, signal
from .test_incidents import POLICY, Book


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def test_a_consequence_joins_the_incident_of_its_cause() -> None:
    book = Book()
    book.feed(signal(case="api-read", cause="apiserver.unavailable"))
    d = book.feed(signal(case="deployment", cause="controller.stalled", minutes=1))
    assert d.notices == []
    (inc,) = book.incidents.values()
    assert inc.cause == "apiserver.unavailable"
    assert inc.cases() == ["api-read", "deployment"]
    assert inc.scope == "cluster"
    assert "joined cluster/c1/apiserver.unavailable" in d.note


def test_an_undecided_failure_joins_the_open_incident_of_its_cluster() -> None:
    book = Book()
    book.feed(signal(case="scheduling"))
    d = book.feed(signal(case="pod", cause="network.connection", firm=False, minutes=1))
    assert d.notices == []
    (inc,) = book.incidents.values()
    assert (inc.cause, inc.cases()) == ("scheduling.scheduler_down", ["pod", "scheduling"])
    assert inc.confidence == 0.9  # the joining guess does not overwrite the cause's confidence


def test_unknown_and_timeouts_follow_from_any_open_cause_even_when_firm() -> None:
    book = Book()
    book.feed(signal(cause="etcd.unavailable"))
    book.feed(signal(case="watch", cause="probe.timeout", minutes=1))
    book.feed(signal(case="api-write", cause="apiserver.unavailable", minutes=1))
    assert list(book.incidents) == ["cluster/c1/etcd.unavailable"]


def test_a_failure_whose_evidence_names_another_cause_opens_its_own() -> None:
    book = Book()
    book.feed(signal(cause="scheduling.taints"))
    d = book.feed(signal(case="pod", cause="admission.quota_exceeded", firm=True, minutes=1))
    assert book.events(d) == [("cluster/c1/admission.quota_exceeded", "firing")]
    assert len(book.incidents) == 2


def test_an_undecided_failure_on_a_quiet_cluster_still_opens_an_incident() -> None:
    book = Book()
    d = book.feed(signal(cause="unknown", firm=False))
    assert book.events(d) == [("cluster/c1/unknown", "firing")]


def test_other_clusters_and_old_incidents_are_not_joined() -> None:
    book = Book()
    book.feed(signal(cluster="c2", cause="apiserver.unavailable"))
    book.feed(signal(cause="apiserver.unavailable"))
    d = book.feed(signal(case="late", cause="unknown", firm=False, minutes=POLICY.join_window_s / 60 + 1))
    assert book.events(d) == [("cluster/c1/unknown", "firing")]


def resolved(cause: str, minutes: float) -> Incident:
    book = Book()
    book.feed(signal(cause=cause))
    (inc,) = book.incidents.values()
    observe(signal(outcome=Outcome.PASSED, cause=cause, minutes=minutes), [inc], [], POLICY)
    assert inc.state == "resolved"
    assert inc.resolved_at == at(minutes)
    return inc


def test_a_late_failure_of_a_resolved_cause_is_recorded_only() -> None:
    over = resolved("admission.quota_exceeded", 5)
    late = signal(cause="admission.quota_exceeded", minutes=7, started=at(4))
    d = observe(late, [], [], POLICY, resolved=[over])
    assert d.changed == []
    assert d.notices == []
    assert "late" in d.note


def test_a_late_consequence_of_a_resolved_cause_is_recorded_only() -> None:
    over = resolved("apiserver.unavailable", 5)
    d = observe(
        signal(cause="controller.stalled", minutes=6, started=at(4.5)), [], [], POLICY, resolved=[over]
    )
    assert d.changed == []


def test_the_same_cause_after_the_resolution_is_news() -> None:
    over = resolved("admission.quota_exceeded", 5)
    fresh = signal(cause="admission.quota_exceeded", minutes=7, started=at(6))
    d = observe(fresh, [], [], POLICY, resolved=[over])
    assert [(n.incident.key, n.event) for n in d.notices] == [
        ("cluster/c1/admission.quota_exceeded", "firing")
    ]
    other = observe(
        signal(cause="scheduling.taints", minutes=7, started=at(4)), [], [], POLICY, resolved=[over]
    )
    assert len(other.notices) == 1


def test_only_a_pass_newer_than_the_last_failure_resolves() -> None:
    book = Book()
    book.feed(signal(minutes=2))
    stale_pass = signal(outcome=Outcome.PASSED, minutes=3, started=at(1))
    d = book.feed(stale_pass)
    assert d.changed == []
    assert len(book.incidents) == 1
    d = book.feed(signal(outcome=Outcome.PASSED, minutes=4, started=at(3)))
    assert book.events(d) == [("cluster/c1/scheduling.scheduler_down", "resolved")]
    assert book.incidents == {}


def test_a_joined_incident_resolves_only_when_every_case_passed() -> None:
    book = Book()
    book.feed(signal(case="api-read", cause="apiserver.unavailable"))
    book.feed(signal(case="deployment", cause="controller.stalled", minutes=1))
    book.feed(signal(case="api-read", outcome=Outcome.PASSED, minutes=2))
    assert len(book.incidents) == 1
    d = book.feed(signal(case="deployment", outcome=Outcome.PASSED, minutes=3))
    assert book.events(d) == [("cluster/c1/apiserver.unavailable", "resolved")]


def test_a_components_recovery_joins_its_open_incident() -> None:
    book = Book()
    book.feed(signal(case="api-read", cause="apiserver.unavailable"))
    d = book.feed(signal(case="api-write", cause="auth.forbidden", firm=True, minutes=1))
    assert d.notices == []
    book.feed(signal(case="etcd", cause="etcd.unavailable", firm=True, minutes=1))
    assert list(book.incidents) == ["cluster/c1/apiserver.unavailable"]


def test_a_recovery_after_the_resolution_is_recorded_only_for_a_while() -> None:
    over = resolved("apiserver.unavailable", 5)
    soon = signal(cause="auth.forbidden", firm=True, minutes=5.6, started=at(5.5))
    d = observe(soon, [], [], POLICY, resolved=[over])
    assert d.changed == []
    assert d.note.startswith("recovery: auth.forbidden")
    later = signal(cause="auth.forbidden", firm=True, minutes=7.2, started=at(7))
    assert [(n.incident.key, n.event) for n in observe(later, [], [], POLICY, resolved=[over]).notices] == [
        ("cluster/c1/auth.forbidden", "firing")
    ]
    # a cause that is not the component's recovery is news at once
    other = observe(
        signal(cause="admission.quota_exceeded", minutes=5.6, started=at(5.5)),
        [],
        [],
        POLICY,
        resolved=[over],
    )
    assert len(other.notices) == 1


def test_a_node_not_ready_for_its_stopped_runtime_joins_the_runtimes_incident() -> None:
    book = Book()
    book.feed(signal(case="node-probe", cause="runtime.sandbox_failure", firm=True))
    book.feed(signal(case="node-probe", cause="node.not_ready", firm=True, minutes=1))
    assert list(book.incidents) == ["cluster/c1/runtime.sandbox_failure"]


def test_a_silent_cluster_whose_api_server_is_down_joins_that_incident() -> None:
    book = Book()
    book.feed(signal(case="api-read", cause="apiserver.unavailable"))
    d = book.feed(signal(case="(cluster)", cause="staleness.cluster", firm=True, minutes=0.5))
    assert d.notices == []
    assert list(book.incidents) == ["cluster/c1/apiserver.unavailable"]


def test_the_api_server_found_down_after_the_cluster_went_silent_joins_the_silence() -> None:
    book = Book()
    book.feed(signal(case="(cluster)", cause="staleness.cluster", firm=True))
    book.feed(signal(case="api-read", cause="apiserver.unavailable", firm=True, minutes=0.5))
    assert list(book.incidents) == ["cluster/c1/staleness.cluster"]


def test_a_silence_that_joined_its_cause_ends_when_reports_resume() -> None:
    book = Book()
    book.feed(signal(case="api-read", cause="apiserver.unavailable"))
    book.feed(signal(case="(cluster)", cause="staleness.cluster", step="staleness", minutes=0.5))
    book.feed(signal(case="api-read", outcome=Outcome.PASSED, minutes=1))
    assert len(book.incidents) == 1  # the silence is still a member
    d = book.feed(
        signal(
            case="(cluster)", cause="staleness.cluster", step="staleness", outcome=Outcome.PASSED, minutes=1.5
        )
    )
    assert book.events(d) == [("cluster/c1/apiserver.unavailable", "resolved")]
