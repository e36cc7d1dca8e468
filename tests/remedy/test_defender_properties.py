"""Property tests of the defender: no sequence of requests, outcomes, pauses, health changes and
clock steps, from two center replicas racing over one store, gets past a cap, a rate limit, the
disruptive gap, an open breaker, a storm, a pause or another replica's lease.

The test keeps its own model of what was granted and checks every grant against the rules as the
issue states them, not against the defender's own bookkeeping. Races: any operation may carry a
second one, by the other replica, that runs between the first one's load and its commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeprobe.remedy.defender import (
    BreakerSettings,
    CapSettings,
    Decision,
    Defender,
    DefenderSettings,
    DefenderState,
    MemoryDefenderStore,
    Mode,
    Observation,
    Outcome,
    RateSettings,
    Request,
    RiskTier,
    StaticClusterHealth,
    StormSettings,
    Target,
)
from kubeprobe.remedy.defender.state import AuditRecord
from kubeprobe.remedy.errors import UnknownRemediationError
from tests.remedy.fakes import FakeClock

CLUSTERS = ("c1", "c2", "c3")
NODES = 6  # n0..n5; pool p0 for even, p1 for odd
FLEET = 10
RULES = DefenderSettings(
    caps=CapSettings(
        pool_nodes=1,
        pool_nodes_percent=None,
        cluster_nodes=3,
        cluster_nodes_percent=40,
        in_flight_per_cluster=2,
        control_plane_per_cluster=1,
        clusters_in_remediation_percent=20,
    ),
    rates=RateSettings(
        action_per_hour=60, action_burst=3, fleet_per_hour=120, fleet_burst=4, disruptive_gap_seconds=60
    ),
    storm=StormSettings(node_share=0.4, cluster_share=0.3, min_nodes=3, cooldown_seconds=120),
    breaker=BreakerSettings(consecutive_failures=2, window=4, min_success_ratio=0.5, min_samples=3),
    lease_seconds=100,
)
ACTIONS = {  # action → (tier, target kind, control plane)
    "node-restart": (RiskTier.DISRUPTIVE, "Node", False),
    "pod-delete": (RiskTier.REVERSIBLE, "Pod", False),
    "cp-restart": (RiskTier.DISRUPTIVE, "Pod", True),
}


@dataclass(frozen=True)
class Ask:
    replica: int
    cluster: str
    action: str
    index: int
    variant: int  # a different remediation of the same target
    dry: bool


@dataclass(frozen=True)
class Report:
    replica: int
    pick: int  # which of the targets granted so far
    outcome: Outcome
    stale: bool  # present an older token than the newest


@dataclass(frozen=True)
class Step:
    kind: str  # advance | health | reach | fleet | pause | resume | close | release
    cluster: str = "c1"
    action: str = "*"
    index: int = 0
    flag: bool = True
    amount: float = 0.0


@dataclass(frozen=True)
class Race:
    first: Ask | Report | Step
    meanwhile: Ask | Report | Step


def target_of(cluster: str, action: str, index: int) -> Target:
    _, kind, _ = ACTIONS[action]
    if kind == "Node":
        return Target(cluster, "Node", f"n{index}", pool=f"p{index % 2}")
    return Target(cluster, "Pod", f"{action}-{index}", namespace="apps")


clusters = st.sampled_from(CLUSTERS)
actions = st.sampled_from(sorted(ACTIONS))
indexes = st.integers(0, NODES - 1)
asks = st.builds(Ask, st.integers(0, 1), clusters, actions, indexes, st.integers(0, 1), st.booleans())
outcomes = st.sampled_from([Outcome.VERIFIED, Outcome.FAILED, Outcome.FAILED, Outcome.UNVERIFIED])
reports = st.builds(
    Report, st.integers(0, 1), st.integers(0, 50), outcomes, st.sampled_from([False, False, True])
)
calm_steps = st.one_of(
    st.builds(Step, st.just("advance"), amount=st.sampled_from([1.0, 30.0, 61.0, 121.0, 900.0, 3600.0])),
    st.builds(Step, st.just("close"), clusters, actions),
    st.builds(Step, st.just("release"), index=st.integers(0, 50)),
)
disturbances = st.one_of(
    st.builds(Step, st.just("health"), clusters, index=indexes, flag=st.booleans()),
    st.builds(
        Step,
        st.just("reach"),
        clusters,
        flag=st.sampled_from([True, True, False]),
        amount=st.sampled_from([0.0, 1.0, 1.0]),
    ),
    st.builds(Step, st.just("fleet"), amount=st.sampled_from([0.0, 2.0, 4.0])),
    st.builds(
        Step,
        st.sampled_from(["pause", "resume"]),
        st.sampled_from([*CLUSTERS, "*"]),
        st.sampled_from([*ACTIONS, "*"]),
    ),
)


def operations(*steps: st.SearchStrategy[Step]) -> st.SearchStrategy[list[Ask | Report | Step | Race]]:
    single = st.one_of(asks, asks, asks, reports, reports, *steps)
    return st.lists(st.one_of(single, single, st.builds(Race, single, single)), min_size=30, max_size=100)


class RacingStore(MemoryDefenderStore):
    """Runs what the test queued "meanwhile" just before the next commit."""

    def __init__(self) -> None:
        super().__init__()
        self.meanwhile: list[Callable[[], Awaitable[None]]] = []

    async def commit(self, version: int, state: DefenderState, audit: Sequence[AuditRecord]) -> bool:
        while self.meanwhile:
            await self.meanwhile.pop(0)()
        return await super().commit(version, state, audit)


@dataclass
class Held:
    token: int
    until: float
    running: bool
    cluster: str
    kind: str
    name: str
    pool: str
    control_plane: bool
    request_id: str
    action: str


@dataclass
class Model:
    """What the test knows happened, and the rules as the issue states them."""

    clock: FakeClock = field(default_factory=FakeClock)
    healthy: dict[tuple[str, int], bool] = field(default_factory=dict)
    reach: dict[str, tuple[bool, bool]] = field(default_factory=dict)
    fleet_unhealthy: int = 0
    pauses: set[tuple[str, str]] = field(default_factory=set)
    held: dict[str, Held] = field(default_factory=dict)  # target key → the slot
    tokens: dict[str, list[int]] = field(default_factory=dict)  # every token granted per target
    grants: list[tuple[float, str, str, RiskTier, str]] = field(default_factory=list)
    last_token: int = 0
    breaker: dict[tuple[str, str], list[bool]] = field(default_factory=dict)
    consecutive: dict[tuple[str, str], int] = field(default_factory=dict)
    open: set[tuple[str, str]] = field(default_factory=set)
    storm_seen: dict[str, float] = field(default_factory=dict)
    paged: list[str] = field(default_factory=list)

    def health(self, cluster: str) -> StaticClusterHealth:
        nodes = {f"n{i}": (f"p{i % 2}", self.healthy.get((cluster, i), True)) for i in range(NODES)}
        reachable, peers = self.reach.get(cluster, (True, True))
        return StaticClusterHealth(nodes, reachable, peers)

    def observation(self, cluster: str) -> Observation:
        return Observation(self.health(cluster), FLEET, self.fleet_unhealthy)

    def storms_now(self, target: Target) -> set[str]:
        scopes, health = set(), self.health(target.cluster)
        if self.fleet_unhealthy / FLEET > RULES.storm.cluster_share:
            scopes.add("fleet")
        if not health.reachable or not health.peers_reachable:
            scopes.add(f"cluster:{target.cluster}")
        else:
            pools: list[str | None] = [None, target.pool] if target.is_node and target.pool else [None]
            for pool in pools:
                total, bad = health.node_count(pool), health.unhealthy_count(pool)
                if total >= RULES.storm.min_nodes and bad / total > RULES.storm.node_share:
                    scopes.add(
                        f"cluster:{target.cluster}" if pool is None else f"pool:{target.cluster}/{pool}"
                    )
        return scopes


def check_decision(m: Model, req: Request, obs: Observation, seen: set[str], decision: Decision) -> None:
    """Every invariant a decision must keep, against what the request saw (``obs``, the storms
    ``seen``) when it was asked; then update the model with it."""
    now, target = decision.at, req.target
    for scope in seen:
        last = m.storm_seen.get(scope)
        if last is None or now - last > RULES.storm.cooldown_seconds:
            assert scope in {p.scope for p in decision.pages}, f"storm in {scope} not paged"
            assert all(p.priority == "P1" for p in decision.pages)
        m.storm_seen[scope] = now
    m.paged += [p.scope for p in decision.pages]
    if not decision.allowed or decision.dry:
        assert decision.lease is None
        return
    assert decision.lease is not None
    scopes = {"fleet", f"cluster:{target.cluster}", f"pool:{target.cluster}/{target.pool}"}
    assert not any(now - m.storm_seen[s] <= RULES.storm.cooldown_seconds for s in scopes & set(m.storm_seen))
    cluster, action = target.cluster, req.action
    assert not {(cluster, action), (cluster, "*"), ("*", action), ("*", "*")} & m.pauses, (
        "granted while paused"
    )
    assert (action, cluster) not in m.open, "granted with the breaker open"
    old = m.held.get(target.key)
    if old is not None:  # only the same remediation, and only once nothing of it runs
        assert old.request_id == req.id, "another remediation's target was granted"
        assert not (old.running and old.until > now), "a running attempt's lease was not respected"
    assert decision.lease.token > m.last_token, "fencing tokens must grow"
    m.last_token = decision.lease.token
    m.held[target.key] = Held(
        decision.lease.token,
        decision.lease.until,
        True,
        cluster,
        target.kind,
        target.name,
        target.pool,
        req.control_plane,
        req.id,
        req.action,
    )
    m.tokens.setdefault(target.key, []).append(decision.lease.token)
    m.grants.append((now, action, cluster, req.tier, target.key))
    check_caps(m, target, obs)
    check_rates(m, action, cluster, req.tier, now)


def check_caps(m: Model, target: Target, obs: Observation) -> None:
    caps, cluster = RULES.caps, target.cluster
    mine = [h for h in m.held.values() if h.cluster == cluster]
    assert len(mine) <= caps.in_flight_per_cluster
    assert sum(h.control_plane for h in mine) <= caps.control_plane_per_cluster
    assert len({h.cluster for h in m.held.values()}) <= max(1, FLEET * 20 // 100)
    if target.is_node:
        health = obs.cluster
        for pool, cap in ((None, 2), (target.pool, 1)):  # cluster: min(3, 40 % of 6 = 2); pool: 1
            names = {h.name for h in mine if h.kind == "Node" and (pool is None or h.pool == pool)}
            count = health.unhealthy_count(pool) + sum(1 for n in names if not health.is_unhealthy(n))
            assert count <= cap, f"{count} nodes unhealthy or in remediation in {pool or cluster}"


def check_rates(m: Model, action: str, cluster: str, tier: RiskTier, now: float) -> None:
    rates = RULES.rates
    for match, per_hour, burst in (
        (lambda a, c: (a, c) == (action, cluster), rates.action_per_hour, rates.action_burst),
        (lambda a, c: True, rates.fleet_per_hour, rates.fleet_burst),
    ):
        times = [t for t, a, c, _, _ in m.grants if match(a, c)]
        for start in times:
            inside = sum(1 for t in times if start <= t <= now)
            assert inside <= burst + (now - start) * per_hour / 3600 + 1e-9, "token bucket exceeded"
    if tier is not RiskTier.REVERSIBLE:
        disruptive = [(t, k) for t, _, c, tr, k in m.grants if c == cluster and tr is not RiskTier.REVERSIBLE]
        if (
            len(disruptive) >= 2 and disruptive[-1][1] != disruptive[-2][1]
        ):  # a sequence on one target is exempt
            assert disruptive[-1][0] - disruptive[-2][0] >= rates.disruptive_gap_seconds


def note_outcome(m: Model, key: tuple[str, str], ok: bool) -> None:
    rules = RULES.breaker
    results = [*m.breaker.get(key, []), ok][-rules.window :]
    m.breaker[key] = results
    m.consecutive[key] = 0 if ok else m.consecutive.get(key, 0) + 1
    ratio_low = len(results) >= rules.min_samples and sum(results) / len(results) < rules.min_success_ratio
    if m.consecutive[key] >= rules.consecutive_failures or ratio_low:
        m.open.add(key)


async def run_op(
    m: Model, store: RacingStore, replicas: list[Defender], op: Ask | Report | Step | Race
) -> None:
    if isinstance(op, Race):
        store.meanwhile.append(lambda: run_op(m, store, replicas, op.meanwhile))
        await run_op(m, store, replicas, op.first)
        store.meanwhile.clear()
    elif isinstance(op, Ask):
        tier, _, cp = ACTIONS[op.action]
        target = target_of(op.cluster, op.action, op.index)
        req = Request(f"r{op.variant}-{target.key}", op.action, tier, target, Mode.AUTO, cp)
        obs, seen = m.observation(op.cluster), m.storms_now(target)
        decision = await replicas[op.replica].decide(req, obs, dry=op.dry)
        check_decision(m, req, obs, seen, decision)
    elif isinstance(op, Report):
        await report(m, replicas[op.replica], op)
    else:
        await step(m, replicas[0], op)


async def report(m: Model, defender: Defender, op: Report) -> None:
    running = sorted(k for k, h in m.held.items() if h.running)
    choices = sorted(m.tokens) if op.stale or not running else running
    if not choices:
        return
    key = choices[op.pick % len(choices)]
    token = m.tokens[key][0] if op.stale else m.tokens[key][-1]
    accepted = await defender.record_outcome(key, token, op.outcome)
    held = m.held.get(key)  # after the call: an operation that raced it committed first
    expect = held is not None and held.token == token and held.running
    assert accepted == expect, "an outcome was accepted for a stale token, or refused for the current one"
    if accepted and held is not None:
        note_outcome(m, (held.action, held.cluster), op.outcome is Outcome.VERIFIED)
        if op.outcome is Outcome.VERIFIED:
            del m.held[key]
        else:
            held.running, held.until = False, 0.0


async def step(m: Model, defender: Defender, op: Step) -> None:
    if op.kind == "advance":
        m.clock.advance(op.amount)
    elif op.kind == "health":
        m.healthy[(op.cluster, op.index)] = op.flag
    elif op.kind == "reach":
        m.reach[op.cluster] = (op.flag, op.amount > 0)
    elif op.kind == "fleet":
        m.fleet_unhealthy = int(op.amount)
    elif op.kind == "pause":
        await defender.pause(cluster=op.cluster, action=op.action, by="test")
        m.pauses.add((op.cluster, op.action))
    elif op.kind == "resume":
        try:
            await defender.resume(cluster=op.cluster, action=op.action, by="test")
        except UnknownRemediationError:
            assert (op.cluster, op.action) not in m.pauses
        m.pauses.discard((op.cluster, op.action))
    elif op.kind == "close":
        if (op.action, op.cluster) in m.breaker:
            await defender.close_breaker(action=op.action, cluster=op.cluster, by="test")
        for table in (m.breaker, m.consecutive):
            table.pop((op.action, op.cluster), None)  # type: ignore[arg-type]
        m.open.discard((op.action, op.cluster))
    elif op.kind == "release":
        if not m.tokens:
            return
        key = sorted(m.tokens)[op.index % len(m.tokens)]
        try:
            await defender.release(key, by="test", reason="incident resolved")
        except UnknownRemediationError:
            assert key not in m.held
        m.held.pop(key, None)


async def play(ops: list[Ask | Report | Step | Race]) -> None:
    m, store = Model(), RacingStore()
    replicas = [Defender(store, RULES, replica=f"replica-{i}", clock=m.clock) for i in range(2)]
    for op in ops:
        await run_op(m, store, replicas, op)
        state = await replicas[0].state()
        assert set(state.slots) == set(m.held), "the shared state and the grants disagree"
    audit = await store.audit()
    assert [r.seq for r in audit] == list(range(1, len(audit) + 1)), "the audit is append-only"


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations(calm_steps, disturbances))
def test_no_sequence_of_requests_gets_past_the_defender(ops: list[Ask | Report | Step | Race]) -> None:
    asyncio.run(play(ops))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations(calm_steps))
def test_in_a_calm_fleet_rates_and_the_breaker_hold(ops: list[Ask | Report | Step | Race]) -> None:
    """Without storms and pauses most requests reach the rate limits, caps and the breaker."""
    asyncio.run(play(ops))
