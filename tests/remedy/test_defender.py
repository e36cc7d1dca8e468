"""The defender's rules one by one, with a fake clock and the in-memory store."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from kubeprobe.remedy.defender import (
    BreakerSettings,
    CapSettings,
    Defender,
    DefenderSettings,
    MemoryDefenderStore,
    Outcome,
    RateSettings,
)
from kubeprobe.remedy.errors import FenceError
from tests.remedy.fakes import FakeClock, cluster_health, node_request, observe, pod_request

LOOSE_RATES = RateSettings(action_burst=100, fleet_burst=100, disruptive_gap_seconds=0)


def defender(settings: DefenderSettings | None = None) -> tuple[Defender, FakeClock]:
    clock = FakeClock()
    return Defender(MemoryDefenderStore(), settings, clock=clock), clock


async def test_a_request_within_every_limit_is_granted_with_a_lease_and_audited() -> None:
    d, clock = defender()
    decision = await d.decide(node_request("c1", "n0"), observe(cluster_health(10, 1)))
    assert decision.allowed
    assert not decision.denials
    assert decision.lease is not None
    assert decision.lease.token == 1
    assert decision.lease.until == clock.now + 300
    [record] = await d.store.audit()
    assert record.event == "decision"
    assert record.outcome == "granted"
    assert record.policy_version == 3
    assert record.counters["cluster_unhealthy_or_in_remediation"] == 1
    assert record.plan == ("restart kubelet on n0",)


async def test_node_caps_count_unhealthy_and_in_remediation_nodes_per_pool_and_cluster() -> None:
    caps = CapSettings(
        pool_nodes=1,
        pool_nodes_percent=None,
        cluster_nodes=2,
        cluster_nodes_percent=None,
        in_flight_per_cluster=10,
    )
    d, _ = defender(DefenderSettings(caps=caps, rates=LOOSE_RATES))
    health = cluster_health(20, 0, pools=2)  # n0, n2, ... in p0; n1, n3, ... in p1
    assert (await d.decide(node_request("c1", "n0", pool="p0"), observe(health))).allowed
    second = await d.decide(node_request("c1", "n2", pool="p0"), observe(health))
    assert second.codes == ("cap.pool",)
    assert (await d.decide(node_request("c1", "n1", pool="p1"), observe(health))).allowed
    third = await d.decide(node_request("c1", "n3", pool="p1"), observe(health))
    assert set(third.codes) == {"cap.pool", "cap.cluster"}


async def test_percent_caps_hold_with_at_least_one_node() -> None:
    caps = CapSettings(
        pool_nodes=None,
        pool_nodes_percent=10,
        cluster_nodes=None,
        cluster_nodes_percent=10,
        in_flight_per_cluster=10,
    )
    d, _ = defender(DefenderSettings(caps=caps, rates=LOOSE_RATES))
    small = cluster_health(5, 1)  # 10 % of 5 nodes is 0: one node may still be healed
    assert (await d.decide(node_request("c1", "n0"), observe(small))).allowed
    assert (await d.decide(node_request("c1", "n1"), observe(small))).codes == ("cap.cluster", "cap.pool")


async def test_in_flight_control_plane_and_fleet_caps() -> None:
    caps = CapSettings(in_flight_per_cluster=2, clusters_in_remediation_percent=20)
    d, _ = defender(DefenderSettings(caps=caps, rates=LOOSE_RATES))
    cp = replace(pod_request("c1", "kube-scheduler"), control_plane=True)
    assert (await d.decide(cp, observe())).allowed
    cp2 = replace(pod_request("c1", "etcd"), control_plane=True)
    assert "cap.control_plane" in (await d.decide(cp2, observe())).codes
    assert (await d.decide(pod_request("c1", "a"), observe())).allowed
    assert "cap.in_flight" in (await d.decide(pod_request("c1", "b"), observe())).codes
    # 20 % of a fleet of 10 clusters: two clusters in remediation at once, not three.
    assert (await d.decide(pod_request("c2", "a"), observe(fleet=10))).allowed
    assert "cap.fleet" in (await d.decide(pod_request("c3", "a"), observe(fleet=10))).codes


async def test_the_next_step_on_the_same_node_is_not_held_by_the_gap() -> None:
    caps = CapSettings(
        pool_nodes=None, pool_nodes_percent=None, cluster_nodes=None, cluster_nodes_percent=None
    )
    d, clock = defender(DefenderSettings(caps=caps, rates=RateSettings(disruptive_gap_seconds=300)))
    drain = await d.decide(
        node_request("c1", "n1", rid="drain", action="node-drain"), observe(cluster_health(20, 2))
    )
    assert drain.lease is not None
    await d.record_outcome(drain.lease.target, drain.lease.token, Outcome.VERIFIED)
    clock.advance(5)
    restart = node_request("c1", "n1", rid="restart", action="restart-node-component")
    assert (await d.decide(restart, observe(cluster_health(20, 2)))).allowed  # one remediation, two steps
    assert "rate.gap" in (await d.decide(node_request("c1", "n2"), observe(cluster_health(20, 2)))).codes


async def test_token_buckets_and_the_disruptive_gap() -> None:
    rates = RateSettings(
        action_per_hour=6, action_burst=2, fleet_per_hour=60, fleet_burst=3, disruptive_gap_seconds=0
    )
    caps = CapSettings(in_flight_per_cluster=100, clusters_in_remediation_percent=100)
    d, clock = defender(DefenderSettings(caps=caps, rates=rates))
    assert (await d.decide(pod_request("c1", "a"), observe())).allowed
    assert (await d.decide(pod_request("c1", "b"), observe())).allowed
    assert (await d.decide(pod_request("c1", "c"), observe())).codes == ("rate.action",)
    assert (await d.decide(pod_request("c2", "a"), observe())).allowed
    assert (await d.decide(pod_request("c3", "a"), observe())).codes == ("rate.fleet",)
    clock.advance(600)  # 6 an hour: one token back after 10 minutes
    assert (await d.decide(pod_request("c1", "c"), observe())).allowed

    no_node_caps = CapSettings(
        pool_nodes=None,
        pool_nodes_percent=None,
        cluster_nodes=None,
        cluster_nodes_percent=None,
        in_flight_per_cluster=100,
    )
    d, clock = defender(DefenderSettings(caps=no_node_caps, rates=RateSettings(disruptive_gap_seconds=300)))
    assert (await d.decide(node_request("c1", "n1"), observe(cluster_health(20, 2)))).allowed
    clock.advance(299)
    assert "rate.gap" in (await d.decide(node_request("c1", "n2"), observe(cluster_health(20, 2)))).codes
    assert (await d.decide(pod_request("c1", "x"), observe())).allowed  # reversible: no gap
    clock.advance(1)
    assert (await d.decide(node_request("c1", "n2"), observe(cluster_health(20, 2)))).allowed


async def test_half_the_nodes_not_ready_is_a_storm_no_action_and_one_p1_page() -> None:
    d, clock = defender()
    storm = observe(cluster_health(10, 5))
    first = await d.decide(node_request("c1", "n0"), storm)
    assert not first.allowed
    assert "storm.share" in first.codes
    assert [(p.priority, p.scope) for p in first.pages] == [("P1", "cluster:c1")]
    again = await d.decide(pod_request("c1", "web"), storm)
    assert "storm.share" in again.codes
    assert not again.pages  # paged once per storm
    calm = observe(cluster_health(10, 1))
    clock.advance(599)
    assert "storm.share" in (await d.decide(node_request("c1", "n0"), calm)).codes  # cool-down
    clock.advance(2)
    assert (await d.decide(node_request("c1", "n0"), calm)).allowed
    events = [r.event for r in await d.store.audit()]
    assert events.count("storm") == 1


@pytest.mark.parametrize(
    ("health", "code"),
    [(cluster_health(reachable=False), "storm.unreachable"), (cluster_health(peers=False), "storm.peers")],
)
async def test_unreachable_clusters_are_storms(health: object, code: str) -> None:
    d, _ = defender()
    decision = await d.decide(pod_request("c1", "web"), observe(health))  # type: ignore[arg-type]
    assert decision.codes == (code,)
    assert decision.pages[0].priority == "P1"


async def test_a_fleet_storm_stops_every_cluster() -> None:
    d, _ = defender()
    decision = await d.decide(pod_request("c1", "web"), observe(fleet=10, fleet_unhealthy=4))
    assert decision.codes == ("storm.share",)
    assert decision.pages[0].scope == "fleet"
    assert "storm.share" in (await d.decide(pod_request("c2", "web"), observe())).codes


async def test_breaker_opens_after_k_failures_until_a_person_closes_it() -> None:
    settings = DefenderSettings(rates=LOOSE_RATES, breaker=BreakerSettings(consecutive_failures=3))
    d, _ = defender(settings)
    req = pod_request("c1", "web")
    for attempt in range(3):
        decision = await d.decide(req, observe())
        assert decision.allowed, (attempt, decision.denials)
        assert decision.lease is not None
        assert await d.record_outcome(decision.lease.target, decision.lease.token, Outcome.FAILED)
    blocked = await d.decide(req, observe())
    assert blocked.codes == ("breaker.open",)
    assert "breaker-open" in [r.event for r in await d.store.audit()]
    # The failed attempt keeps its slot: another remediation of the target waits.
    other = await d.decide(pod_request("c1", "web", rid="another"), observe())
    assert "target.busy" in other.codes
    await d.close_breaker(action="pod-delete", cluster="c1", by="alice")
    assert (await d.decide(req, observe())).allowed


async def test_breaker_opens_on_a_low_success_ratio() -> None:
    rules = BreakerSettings(consecutive_failures=99, window=6, min_success_ratio=0.5, min_samples=4)
    d, _ = defender(DefenderSettings(rates=LOOSE_RATES, breaker=rules))
    for i, outcome in enumerate(
        [Outcome.VERIFIED, Outcome.FAILED, Outcome.UNVERIFIED, Outcome.VERIFIED, Outcome.FAILED]
    ):
        decision = await d.decide(pod_request("c1", f"p{i}"), observe())
        assert decision.allowed
        assert decision.lease is not None
        await d.record_outcome(decision.lease.target, decision.lease.token, outcome)
        if outcome is not Outcome.VERIFIED:
            await d.release(decision.lease.target, by="test", reason="next")
    assert (await d.decide(pod_request("c1", "p9"), observe())).codes == ("breaker.open",)


async def test_pause_is_a_kill_switch_per_scope_and_freezes_hold() -> None:
    d, _ = defender(DefenderSettings(rates=LOOSE_RATES))
    await d.pause(by="alice", reason="incident review")
    assert (await d.decide(pod_request("c1", "a"), observe())).codes == ("freeze.pause",)
    await d.resume(by="alice")
    await d.pause(cluster="c1", action="pod-delete", by="bob")
    assert (await d.decide(pod_request("c1", "a"), observe())).codes == ("freeze.pause",)
    assert (await d.decide(pod_request("c2", "a"), observe())).allowed
    assert (await d.decide(pod_request("c3", "a"), observe(maintenance=True))).codes == (
        "freeze.maintenance",
    )
    assert (await d.decide(pod_request("c3", "a"), observe(gate=True))).codes == ("freeze.gate",)


async def test_shadow_decisions_take_nothing_but_are_recorded() -> None:
    d, _ = defender(DefenderSettings(rates=RateSettings(action_burst=1)))
    for _ in range(3):
        decision = await d.decide(pod_request("c1", "a"), observe(), dry=True)
        assert decision.allowed
        assert decision.dry
        assert decision.lease is None
    state = await d.state()
    assert not state.slots
    assert not state.buckets
    assert [r.outcome for r in await d.store.audit()] == ["dry", "dry", "dry"]


async def test_leases_fence_replicas_and_expire_into_a_takeover() -> None:
    store, clock = MemoryDefenderStore(), FakeClock()
    one = Defender(store, DefenderSettings(rates=LOOSE_RATES), replica="one", clock=clock)
    two = Defender(store, DefenderSettings(rates=LOOSE_RATES), replica="two", clock=clock)
    req = node_request("c1", "n0")
    first = await one.decide(req, observe())
    assert first.lease is not None
    assert (await two.decide(req, observe())).codes == ("lease.held",)
    await one.check_fence(first.lease.target, first.lease.token)
    clock.advance(301)  # replica one died: its lease expires, the same remediation moves on
    with pytest.raises(FenceError):
        await one.check_fence(first.lease.target, first.lease.token)
    second = await two.decide(req, observe(cluster_health(10, 1)))
    assert second.lease is not None
    assert second.lease.token > first.lease.token
    assert not await one.record_outcome(first.lease.target, first.lease.token, Outcome.VERIFIED)
    assert await two.record_outcome(second.lease.target, second.lease.token, Outcome.VERIFIED)
    assert not (await two.state()).slots


async def test_two_replicas_racing_for_the_last_slot_take_it_once() -> None:
    store, clock = MemoryDefenderStore(), FakeClock()
    settings = DefenderSettings(caps=CapSettings(in_flight_per_cluster=1), rates=LOOSE_RATES)
    one = Defender(store, settings, replica="one", clock=clock)
    two = Defender(store, settings, replica="two", clock=clock)
    a, b = await asyncio.gather(
        one.decide(pod_request("c1", "a"), observe()), two.decide(pod_request("c1", "b"), observe())
    )
    assert sorted([a.allowed, b.allowed]) == [False, True]


async def test_clock_skew_never_loosens_a_limit() -> None:
    store, clock = MemoryDefenderStore(), FakeClock()
    settings = DefenderSettings(rates=RateSettings(action_burst=1, disruptive_gap_seconds=300))
    ahead = Defender(store, settings, replica="ahead", clock=lambda: clock.now + 120)
    behind = Defender(store, settings, replica="behind", clock=clock)
    assert (await ahead.decide(pod_request("c1", "a"), observe())).allowed
    assert (await behind.decide(pod_request("c1", "b"), observe())).codes == ("rate.action",)
