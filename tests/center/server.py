"""A real center served by uvicorn on a free port in a background thread, for CLI and fuzz tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import uvicorn

from kubeprobe.center.app import create_app
from kubeprobe.center.schemas.catalog import TemplateIn
from kubeprobe.center.settings import CenterSettings


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def running_center(
    settings: CenterSettings,
    builtin: Iterable[TemplateIn] = (),
    host: str = "127.0.0.1",
    *,
    dispatch: bool = False,
) -> Iterator[str]:
    """Serve the center on ``host`` until the block ends; yields its base URL (at ``host``: pods
    on a sandbox's real nodes reach this machine at the sandbox's ``host_ip``). With ``dispatch``
    it runs its workers too (scheduler, dispatcher, analysis, staleness ...), as ``kubeprobe
    server`` does; cases report to the served port."""
    port = free_port(host)
    if dispatch:
        settings = settings.model_copy(update={"host": host, "port": port})
    app = create_app(settings, builtin=list(builtin), maintenance=False, dispatch=dispatch)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="center", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the center did not start (see the log above)")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
