"""The bounded on-disk outbox (SQLite): reports wait here until the center has acknowledged them.

A report is written (and committed) before any attempt to send it, so a crash or a center outage
loses nothing; batches are read back in insertion order, and a report leaves the outbox only when
the center answered for its batch. Every report carries an idempotency key, so a batch sent twice
(the center stored it, the answer was lost) is counted once. When the outbox is full the oldest
summaries are dropped first, then the oldest state changes; ``dropped`` counts them.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class BufferError(Exception):
    """The outbox file cannot be opened or written."""


@dataclass(frozen=True)
class Pending:
    seq: int
    key: str
    body: dict[str, Any]


class ReportBuffer:
    """An outbox of at most ``capacity`` reports in ``path`` (``":memory:"`` for tests)."""

    def __init__(self, path: Path | str, capacity: int = 100_000) -> None:
        if capacity < 1:
            raise ValueError(f"buffer capacity={capacity} must be at least 1")
        self.capacity = capacity
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise BufferError(f"report buffer {path}: cannot open: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def __len__(self) -> int:
        row = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()
        return int(row[0])

    @property
    def dropped(self) -> int:
        row = self._db.execute("SELECT value FROM counters WHERE name = 'dropped'").fetchone()
        return int(row[0]) if row else 0

    def add(self, key: str, kind: str, body: dict[str, Any]) -> bool:
        """Store one report; False if its key is already there. Makes room when full."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO outbox (key, kind, body) VALUES (?, ?, ?)",
                    (key, kind, json.dumps(body, separators=(",", ":"))),
                )
                added = cur.rowcount == 1
                excess = len(self) - self.capacity
                if excess > 0:
                    self._drop(excess)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise BufferError(f"report buffer: cannot store report {key}: {exc}") from exc
        return added

    def _drop(self, n: int) -> None:
        for kind_filter in ("WHERE kind = 'summary'", ""):
            if n <= 0:
                return
            oldest = f"SELECT seq FROM outbox {kind_filter} ORDER BY seq LIMIT ?"
            cur = self._db.execute(
                f"DELETE FROM outbox WHERE seq IN ({oldest})",
                (n,),
            )
            n -= cur.rowcount
            self._db.execute(
                "INSERT INTO counters (name, value) VALUES ('dropped', ?) "
                "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                (cur.rowcount,),
            )

    def peek(self, limit: int) -> list[Pending]:
        """The oldest ``limit`` reports, in the order they were added."""
        rows = self._db.execute("SELECT seq, key, body FROM outbox ORDER BY seq LIMIT ?", (limit,)).fetchall()
        return [Pending(seq, key, json.loads(body)) for seq, key, body in rows]

    def ack(self, upto_seq: int) -> None:
        """The center has every report up to ``upto_seq``: forget them."""
        try:
            self._db.execute("DELETE FROM outbox WHERE seq <= ?", (upto_seq,))
        except sqlite3.Error as exc:
            raise BufferError(f"report buffer: cannot acknowledge up to {upto_seq}: {exc}") from exc
