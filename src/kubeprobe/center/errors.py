"""Errors of the center, each with the HTTP status the API answers with.

CenterError
├── InvalidInputError      422  a field is wrong; the message names it and what is allowed
├── NotFoundError          404
├── ConflictError          409  duplicate name, or still in use
├── AuthenticationError    401  no token, or an unknown one
├── PermissionDeniedError  403  a token whose role or run does not allow this
├── GoneError              410  a report after its run's deadline
├── PayloadTooLargeError   413
├── StoreUnavailableError  503  the database is down or locked; nothing was written
└── SingleReplicaStoreError     a second center replica started on a SQLite file (at start only)
"""

from __future__ import annotations


class CenterError(Exception):
    status = 500

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInputError(CenterError):
    status = 422


class NotFoundError(CenterError):
    status = 404


class ConflictError(CenterError):
    status = 409


class AuthenticationError(CenterError):
    status = 401


class PermissionDeniedError(CenterError):
    status = 403


class GoneError(CenterError):
    status = 410


class PayloadTooLargeError(CenterError):
    status = 413


class StoreUnavailableError(CenterError):
    status = 503


class SingleReplicaStoreError(CenterError):
    """SQLite is a single-replica store: a second replica on the same file refuses to start."""
