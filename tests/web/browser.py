"""Helpers of the browser tests and the dashboard benchmark: a real center with the dashboard served by
uvicorn in a thread, and headless Chromium (Debian's package, driven by Playwright; never its downloads)."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from kubeprobe.center.settings import CenterSettings
from kubeprobe.web import create_web_app

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("KUBEPROBE_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]


def chromium_path() -> str:
    """KUBEPROBE_TEST_CHROMIUM (scripts/test sets it), else what scripts/browser installs or finds."""
    path = os.environ.get("KUBEPROBE_TEST_CHROMIUM")
    if not path:
        path = subprocess.run(
            ["bash", str(ROOT / "scripts" / "browser")], check=True, capture_output=True, text=True
        ).stdout.strip()
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving_dashboard(settings: CenterSettings, **kwargs: Any) -> Iterator[str]:
    """Serve the center with its dashboard until the block ends; yields its base URL.
    `settings.port` must be free (take one from free_port())."""
    app = create_web_app(settings, **kwargs)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="center", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the center did not start (see the log above)")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{settings.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
