"""The defender's state in the center's database: compare-and-set, the append-only audit, and
center replicas racing for the same slots through one database."""

from __future__ import annotations

import asyncio

from kubeprobe.center.store.database import Store
from kubeprobe.center.store.remedy import SqlDefenderStore
from kubeprobe.remedy.defender import (
    CapSettings,
    Defender,
    DefenderSettings,
    DefenderState,
    Mode,
    Observation,
    RateSettings,
    Request,
    RiskTier,
    StaticClusterHealth,
    Target,
)
from kubeprobe.remedy.defender.state import AuditRecord


async def test_commit_is_compare_and_set_and_the_audit_only_grows(store: Store) -> None:
    sql = SqlDefenderStore(store)
    version, state = await sql.load()
    assert (version, state) == (0, DefenderState())
    state.fence = 7
    record = AuditRecord(at=1.0, event="decision", replica="a", request_id="r1", cluster="c1", plan=("x",))
    assert await sql.commit(0, state, [record])
    assert not await sql.commit(0, state, [record])  # the first row exists: someone was first
    version, loaded = await sql.load()
    assert (version, loaded.fence) == (1, 7)
    assert await sql.commit(1, loaded, [record, record])
    assert not await sql.commit(1, loaded, [record])  # stale version: nothing written
    audit = await sql.audit()
    assert [r.seq for r in audit] == [1, 2, 3]
    assert audit[0].plan == ("x",)
    assert [r.seq for r in await sql.audit(after=2)] == [3]


async def test_replicas_racing_through_the_database_take_each_slot_once(store: Store) -> None:
    settings = DefenderSettings(
        caps=CapSettings(in_flight_per_cluster=2),
        rates=RateSettings(action_burst=100, fleet_burst=100, disruptive_gap_seconds=0),
    )
    replicas = [
        Defender(SqlDefenderStore(store), settings, replica=f"r{i}", max_attempts=200) for i in range(4)
    ]
    obs = Observation(StaticClusterHealth({}), fleet_clusters=1)

    def request(i: int) -> Request:
        return Request(
            f"rem-{i}", "pod-delete", RiskTier.REVERSIBLE, Target("c1", "Pod", f"p{i}", "ns"), Mode.AUTO
        )

    decisions = await asyncio.gather(*(replicas[i % 4].decide(request(i), obs) for i in range(12)))
    granted = [d for d in decisions if d.allowed]
    assert len(granted) == 2
    assert len({d.lease.token for d in granted if d.lease}) == 2
    state = await replicas[0].state()
    assert len(state.slots) == 2
    assert len([r for r in await replicas[0].store.audit() if r.event == "decision"]) == 12
