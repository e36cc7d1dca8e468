"""API tokens and roles: who may do what. Tokens are random; only their SHA-256 is stored.

admin: everything. operator: read, trigger runs, ingest results (and silence, later). viewer: read.
reporter: one run's report token, valid for that run only.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal

RoleName = Literal["admin", "operator", "viewer", "reporter"]
RANK: dict[str, int] = {"viewer": 0, "operator": 1, "admin": 2}
TOKEN_PREFIX = "kp_"
REPORT_PREFIX = "kpr_"


def new_token(prefix: str = TOKEN_PREFIX) -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """SHA-256 is enough: tokens carry 256 random bits, so there is nothing to brute-force."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who calls: a named API token with a role, or a run's reporter token."""

    name: str
    role: RoleName
    run_id: str | None = None

    def allows(self, needed: RoleName) -> bool:
        if self.role == "reporter" or needed == "reporter":
            return self.role == needed
        return RANK[self.role] >= RANK[needed]
