"""Shared bits of the benchmarks: the result file format of CONVENTIONS.md and RSS sampling."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import threading
from pathlib import Path
from typing import Any

import psutil

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> str:
    mem = psutil.virtual_memory().total / 2**30
    cpus, py = os.cpu_count(), platform.python_version()
    return f"{platform.node()} {platform.machine()} {cpus} cpus {mem:.0f} GiB, Python {py}"


def write_result(
    name: str, params: dict[str, Any], results: dict[str, Any], targets: dict[str, list[Any]]
) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    doc = {
        "benchmark": name,
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "params": params,
        "results": results,
        "targets": targets,
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


class RssSampler:
    """Samples the RSS of some pids every ``interval`` seconds in a thread; keeps the peak of each."""

    def __init__(self, pids: dict[str, int], interval: float = 1.0) -> None:
        self.pids = pids
        self.interval = interval
        self.peak_mb: dict[str, float] = dict.fromkeys(pids, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def current_mb(self, name: str) -> float:
        try:
            return psutil.Process(self.pids[name]).memory_info().rss / 2**20
        except psutil.Error:
            return 0.0

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            for name in self.pids:
                self.peak_mb[name] = max(self.peak_mb[name], self.current_mb(name))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
