"""One bad stored object never stops the loop that serves the others (issue 15).

Silences and routes stored by an older version may no longer validate (a backreference that RE2
refuses, a cron that never fires): they are skipped and logged, and the rest keep working.
"""

from __future__ import annotations

import datetime as dt

from kubeprobe.center.store.database import Store
from kubeprobe.center.store.routing import route_table
from kubeprobe.center.store.silences import current_silences
from kubeprobe.center.store.tables.alerting import RouteRow, SilenceRow

NOW = dt.datetime.now(dt.UTC)
LATER = NOW + dt.timedelta(hours=1)


def _silence(matchers: list[str], cron: str | None = None) -> SilenceRow:
    return SilenceRow(
        matchers=matchers,
        mode="mute",
        starts=None,
        ends=LATER,
        cron=cron,
        duration_s=60.0 if cron else None,
        timezone="UTC",
        comment="",
        created_by="test",
        created=NOW,
    )


async def test_a_silence_that_no_longer_validates_is_skipped(store: Store) -> None:
    async with store.transaction() as s:
        s.add_all(
            [_silence(["case=~(a)\\1"]), _silence(["case=x"], cron="0 0 31 2 *"), _silence(["case=ok"])]
        )
    async with store.transaction() as s:
        got = await current_silences(s, NOW)
    assert [str(m) for silence in got for m in silence.matchers] == ["case=ok"]


async def test_a_route_that_no_longer_validates_is_skipped(store: Store) -> None:
    async with store.transaction() as s:
        for name, matchers in [("bad", ["case=~(?=x)"]), ("good", ["case=ok"])]:
            s.add(RouteRow(name=name, position=0, matchers=matchers, priorities=[], receivers=["r"],
                           continue_matching=False, is_default=False, created=NOW))  # fmt: skip
    async with store.transaction() as s:
        table = await route_table(s)
    assert [r.name for r in table.routes] == ["good"]
