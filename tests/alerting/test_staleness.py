"""Silence is not health: stale watches open their own incident within two intervals, once, and
resolve when reports resume, without resolving a real failure of the same case."""

from __future__ import annotations

import datetime as dt

from kubeprobe.alerting.signals import Outcome
from kubeprobe.alerting.staleness import CLUSTER_SUBJECT, StalenessTracker, Watch, is_staleness
from kubeprobe.model import ROOT_CAUSES

from .helpers import T0, signal
from .test_incidents import Book


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def binding(last: float | None, interval: float = 60) -> Watch:
    return Watch("binding", "c1", "pod", interval, at(last) if last is not None else None, since=at(0))


def test_stale_after_two_intervals_once_then_fresh_once() -> None:
    tracker = StalenessTracker(intervals=2)
    assert tracker.update([binding(0)], at(119)) == []  # within two intervals: not yet
    (failed,) = tracker.update([binding(0)], at(121))
    assert failed.outcome is Outcome.FAILED
    assert failed.cause == "staleness.binding"
    assert (failed.cluster, failed.case) == ("c1", "pod")
    assert "stale: no result of pod on c1 for 121s" in failed.message
    assert tracker.update([binding(0)], at(300)) == []  # still stale: said once
    (passed,) = tracker.update([binding(290)], at(300))
    assert passed.outcome is Outcome.PASSED
    assert passed.cause == "staleness.binding"
    assert tracker.update([binding(290)], at(310)) == []


def test_never_heard_from_counts_from_when_it_was_expected() -> None:
    tracker = StalenessTracker()
    cluster = Watch("cluster", "c2", CLUSTER_SUBJECT, 30, None, since=at(0))
    assert tracker.update([cluster], at(59)) == []
    (failed,) = tracker.update([cluster], at(61))
    assert "no answer from cluster c2" in failed.message
    assert "never heard from" in failed.message


def test_a_watch_that_disappears_resolves() -> None:
    tracker = StalenessTracker()
    tracker.update([binding(0)], at(500))
    (passed,) = tracker.update([], at(510))
    assert passed.outcome is Outcome.PASSED
    assert passed.case == "pod"


def test_seeded_from_open_incidents_a_restarted_center_resolves_what_resumed() -> None:
    tracker = StalenessTracker()
    tracker.seed([("resident", "c1", "resident-default-api")])
    fresh = Watch("resident", "c1", "resident-default-api", 10, at(95), since=at(0))
    (passed,) = tracker.update([fresh], at(100))
    assert passed.outcome is Outcome.PASSED
    assert passed.cause == "staleness.resident"


def test_staleness_opens_its_own_incident_and_its_end_leaves_real_failures_open() -> None:
    book = Book()
    tracker = StalenessTracker()
    book.feed(signal(case="pod", cause="apiserver.unavailable"))  # a real failure of the same case
    opened = book.feed(tracker.update([binding(0)], at(200))[0])
    assert book.events(opened) == [("cluster/c1/staleness.binding", "firing")]
    assert set(book.incidents) == {"cluster/c1/apiserver.unavailable", "cluster/c1/staleness.binding"}
    # A second silent binding on the cluster joins the same incident: one per cluster and kind.
    other = Watch("binding", "c1", "deploy", 60, None, since=at(0))
    book.feed(tracker.update([binding(0), other], at(200))[0])
    assert len(book.incidents["cluster/c1/staleness.binding"].members) == 2
    for s in tracker.update([binding(195), Watch("binding", "c1", "deploy", 60, at(199), at(0))], at(200)):
        book.feed(s)
    assert set(book.incidents) == {"cluster/c1/apiserver.unavailable"}


def test_causes_are_root_cause_labels() -> None:
    for kind in ("binding", "cluster", "resident"):
        assert f"staleness.{kind}" in ROOT_CAUSES
        assert is_staleness(f"staleness.{kind}")
    assert not is_staleness("apiserver.unavailable")
