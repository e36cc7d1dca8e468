"""The center's FastAPI app with the dashboard on top: static files at /ui/static, the page at /ui/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from kubeprobe.center.app import create_app
from kubeprobe.center.settings import CenterSettings

STATIC = Path(__file__).parent / "static"
# Everything the page loads comes from the center itself: a CDN or an inline script would be refused.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def mount_dashboard(app: FastAPI) -> FastAPI:
    """Serve the dashboard from `app` (a center app): GET / redirects to /ui/."""
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="dashboard-static")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui/")

    @app.get("/ui/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(
            STATIC / "index.html",
            headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache", "X-Frame-Options": "DENY"},
        )

    return app


def create_web_app(settings: CenterSettings, **kwargs: Any) -> FastAPI:
    """`center.app.create_app(settings, **kwargs)` with the dashboard mounted."""
    return mount_dashboard(create_app(settings, **kwargs))
