"""A real HTTP endpoint that receives case reports, for tests of the SDK and the case entry point."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    reports: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    #: Status codes to answer with before accepting (e.g. [503, 503] then 200).
    answers: list[int] = field(default_factory=list)
    url: str = ""


@contextmanager
def report_server() -> Iterator[Received]:
    got = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            code = got.answers.pop(0) if got.answers else 200
            if code == 200:
                got.reports.append(json.loads(body))
                got.headers.append(dict(self.headers))
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"detail": "test answer"}')

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    got.url = f"http://127.0.0.1:{server.server_address[1]}/api/v1/runs/r1/report"
    try:
        yield got
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
