"""Errors of Kubernetes access.

Why wrap httpx errors: callers must tell "the cluster said no" (an API status, with its reason)
from "we could not talk to the cluster" (connection, TLS, timeout) from "our input was wrong"
(a malformed kubeconfig). A probe that meets the first has found something; the other two mean
KubeProbe could not run (state ``error``), never that the probe failed.

    KubeError
    ├── KubeConfigError          the kubeconfig is missing, malformed or incomplete
    ├── KubeConnectionError      the API server could not be reached (refused, TLS, timeout)
    └── KubeAPIError             the API server answered with an error status
        ├── KubeClientError      4xx: NotFound 404, Conflict 409 (AlreadyExists), Forbidden 403,
        │   ├── NotFoundError         Gone 410 (expired continue token / resourceVersion),
        │   ├── ConflictError         TooManyRequests 429
        │   ├── ForbiddenError
        │   ├── GoneError
        │   └── ThrottledError
        └── KubeServerError      5xx
"""

from __future__ import annotations

from typing import Any


class KubeError(Exception):
    """Anything that went wrong talking to a Kubernetes cluster."""


class KubeConfigError(KubeError):
    """The kubeconfig cannot be used; the message says which file and field."""


class KubeConnectionError(KubeError):
    """The API server could not be reached (connection refused, TLS failure, timeout)."""


class KubeAPIError(KubeError):
    """The API server answered with an error status."""

    def __init__(self, status: int, reason: str, message: str, body: Any = None) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body


class KubeClientError(KubeAPIError):
    """A 4xx answer: the request was refused."""


class NotFoundError(KubeClientError):
    """404: the object does not exist."""


class ConflictError(KubeClientError):
    """409: the object already exists or was changed meanwhile."""


class ForbiddenError(KubeClientError):
    """403: RBAC or admission said no."""


class GoneError(KubeClientError):
    """410: a continue token or resourceVersion has expired."""


class ThrottledError(KubeClientError):
    """429: API priority and fairness is rejecting requests."""


class KubeServerError(KubeAPIError):
    """A 5xx answer: the API server (or something behind it) failed."""


_BY_STATUS: dict[int, type[KubeAPIError]] = {
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
    429: ThrottledError,
}


def api_error(status: int, body: Any) -> KubeAPIError:
    """Build the right error for an HTTP status and a (maybe) Kubernetes Status body."""
    reason = ""
    message = ""
    if isinstance(body, dict):
        reason = str(body.get("reason") or "")
        message = str(body.get("message") or "")
    elif isinstance(body, str):
        message = body.strip()[:500]
    if status in _BY_STATUS:
        cls = _BY_STATUS[status]
    elif status >= 500:
        cls = KubeServerError
    else:
        cls = KubeClientError
    return cls(status, reason or "Error", message or "(no message)", body)
