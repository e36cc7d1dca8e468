"""The dashboard served by the center: `create_web_app` is the center's app with the dashboard mounted
at /ui/ (hand-written JS and CSS in static/, no CDN), which calls the center's API with a bearer token."""

from kubeprobe.web.app import create_web_app, mount_dashboard

__all__ = ["create_web_app", "mount_dashboard"]
