"""How long the center's event loop is blocked, measured inside the server, per callback.

/healthz latency measured from outside includes the time the server process waits for a core,
which on a shared, loaded machine says more about the machine than about the center. This module
measures what the center itself does: it runs ``kubeprobe server`` on asyncio's own loop (uvloop's
callbacks cannot be wrapped) with every loop callback wrapped, and writes one JSON line for each
callback that held the loop for more than :data:`REPORT_MS` of wall time or CPU time, with the
stack it was seen in (sampled by a thread every few milliseconds). The CPU time of a callback (the
loop thread's own, ``time.thread_time``) does not depend on the machine's load.

Run a server this way: ``python -c "from bench.loopwatch import serve; serve()" server`` with
``KUBEPROBE_LOOPWATCH_OUT=<file>``; read the lines back with :func:`read`.
"""

from __future__ import annotations

import asyncio.events
import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

REPORT_MS = 5.0
_SAMPLE_EVERY_S = 0.003


def _install(out_path: str) -> None:
    out = open(out_path, "a", buffering=1)  # noqa: SIM115 (open for the life of the process)
    state: dict[str, Any] = {"start": None, "thread": None, "samples": []}
    original = asyncio.events.Handle._run

    def run(handle: asyncio.events.Handle) -> None:
        state["thread"], state["samples"] = threading.get_ident(), []
        wall, cpu = time.perf_counter(), time.thread_time()
        state["start"] = wall
        try:
            original(handle)
        finally:
            state["start"] = None
            wall_ms = (time.perf_counter() - wall) * 1000
            cpu_ms = (time.thread_time() - cpu) * 1000
            if wall_ms > REPORT_MS or cpu_ms > REPORT_MS:
                line = {"t": time.time(), "wall_ms": round(wall_ms, 2), "cpu_ms": round(cpu_ms, 2)}
                out.write(json.dumps(line | {"stacks": state["samples"][:3]}) + "\n")

    def sample() -> None:
        while True:
            time.sleep(_SAMPLE_EVERY_S)
            started = state["start"]
            if started is None or time.perf_counter() - started < REPORT_MS / 1000:
                continue
            frame = sys._current_frames().get(state["thread"])
            if frame is not None:
                stack = traceback.extract_stack(frame)[-10:]
                state["samples"].append(
                    " < ".join(f"{Path(f.filename).name}:{f.lineno}:{f.name}" for f in reversed(stack))
                )

    asyncio.events.Handle._run = run  # type: ignore[method-assign]
    threading.Thread(target=sample, name="loopwatch", daemon=True).start()


def serve() -> None:
    """``kubeprobe`` with the loop watched (uvicorn told to use asyncio's loop)."""
    import uvicorn

    from kubeprobe.cli.main import main

    _install(os.environ["KUBEPROBE_LOOPWATCH_OUT"])
    init = uvicorn.Config.__init__

    def asyncio_loop(self: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **(kwargs | {"loop": "asyncio"}))

    uvicorn.Config.__init__ = asyncio_loop  # type: ignore[method-assign]
    main()


def read(path: Path, since: float, until: float) -> list[dict[str, Any]]:
    """The slow callbacks recorded between two wall-clock times."""
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if since <= r["t"] <= until]
