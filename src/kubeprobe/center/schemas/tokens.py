"""API models of API tokens and the audit log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from kubeprobe.center.schemas.common import (
    Input,
    Name,
    Role,
)


class TokenIn(Input):
    name: Name
    role: Role
    expires_in_days: float | None = Field(None, gt=0, le=3650)


class TokenOut(BaseModel):
    name: str
    role: str
    created: dt.datetime
    expires: dt.datetime | None
    revoked: bool


class TokenCreated(TokenOut):
    token: str = Field(description="shown once; only its hash is stored")


class AuditOut(BaseModel):
    id: int
    at: dt.datetime
    actor: str
    role: str
    action: str
    resource: str
    name: str
    detail: dict[str, Any]
