"""The on-disk outbox: order, idempotency keys, bound, survival across reopen."""

from __future__ import annotations

from pathlib import Path

from kubeprobe.operator.buffer import ReportBuffer


def test_order_ack_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "buf.db"
    buf = ReportBuffer(path)
    for i in range(10):
        assert buf.add(f"{i:032x}", "state", {"n": i})
    assert not buf.add(f"{3:032x}", "state", {"n": 3})  # same key: stored once
    first = buf.peek(4)
    assert [p.body["n"] for p in first] == [0, 1, 2, 3]
    buf.ack(first[-1].seq)
    buf.close()
    again = ReportBuffer(path)  # e.g. after kill -9: what was not acknowledged is still there
    assert [p.body["n"] for p in again.peek(100)] == [4, 5, 6, 7, 8, 9]
    assert len(again) == 6


def test_bounded_drops_oldest_summaries_first(tmp_path: Path) -> None:
    buf = ReportBuffer(tmp_path / "b.db", capacity=4)
    buf.add("a" * 32, "state", {"n": "s1"})
    buf.add("b" * 32, "summary", {"n": "m1"})
    buf.add("c" * 32, "summary", {"n": "m2"})
    buf.add("d" * 32, "state", {"n": "s2"})
    buf.add("e" * 32, "state", {"n": "s3"})
    assert [p.body["n"] for p in buf.peek(10)] == ["s1", "m2", "s2", "s3"]
    buf.add("f" * 32, "state", {"n": "s4"})
    buf.add("0" * 32, "state", {"n": "s5"})
    assert [p.body["n"] for p in buf.peek(10)] == ["s2", "s3", "s4", "s5"]
    assert buf.dropped == 3
