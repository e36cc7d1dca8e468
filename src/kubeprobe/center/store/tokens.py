"""API tokens (only hashes stored), resolving a bearer token to a principal, and reading the audit log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.auth import REPORT_PREFIX, Principal, hash_token, new_token
from kubeprobe.center.errors import AuthenticationError, ConflictError
from kubeprobe.center.schemas.tokens import AuditOut, TokenCreated, TokenIn, TokenOut
from kubeprobe.center.store.common import audit, by_name, check_limit, ensure_new, utcnow
from kubeprobe.center.store.tables import ApiToken, AuditEntry, Run


def token_out(row: ApiToken) -> TokenOut:
    return TokenOut(
        name=row.name, role=row.role, created=row.created, expires=row.expires, revoked=row.revoked
    )


async def create_token(
    session: AsyncSession, body: TokenIn, who: Principal | None, *, secret: str | None = None
) -> TokenCreated:
    """A new token; `who` and `secret` are given only for the bootstrap admin token of a first start."""
    await ensure_new(session, ApiToken, body.name, "token")
    secret = secret or new_token()
    now = utcnow()
    expires = now + dt.timedelta(days=body.expires_in_days) if body.expires_in_days else None
    row = ApiToken(
        name=body.name,
        role=body.role,
        token_hash=hash_token(secret),
        created=now,
        expires=expires,
        revoked=False,
    )
    session.add(row)
    await session.flush()
    audit(session, who or Principal("center", "admin"), "create", "token", body.name, {"role": body.role})
    return TokenCreated(token=secret, **token_out(row).model_dump())


async def count_tokens(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(ApiToken))).scalar_one())


async def list_tokens(session: AsyncSession, *, limit: int, after: str | None) -> list[TokenOut]:
    query = select(ApiToken).order_by(ApiToken.name).limit(check_limit(limit))
    if after:
        query = query.where(ApiToken.name > after)
    return [token_out(r) for r in (await session.execute(query)).scalars().all()]


async def revoke_token(session: AsyncSession, name: str, who: Principal) -> None:
    row = await by_name(session, ApiToken, name, "token")
    if row.name == who.name:
        raise ConflictError("a token cannot revoke itself; use another admin token")
    row.revoked = True
    audit(session, who, "revoke", "token", name)


async def authenticate(session: AsyncSession, token: str) -> Principal:
    """The principal of a bearer token: an API token, or a run's report token (reporter scope)."""
    digest = hash_token(token)
    if token.startswith(REPORT_PREFIX):
        run_id = (
            await session.execute(select(Run.id).where(Run.report_token_hash == digest))
        ).scalar_one_or_none()
        if run_id is None:
            raise AuthenticationError("unknown report token")
        return Principal(f"run:{run_id}", "reporter", run_id=run_id)
    row = (await session.execute(select(ApiToken).where(ApiToken.token_hash == digest))).scalar_one_or_none()
    if row is None or row.revoked:
        raise AuthenticationError("unknown or revoked token; create one with `kubeprobe token create`")
    if row.expires is not None and row.expires <= utcnow():
        raise AuthenticationError(f"token {row.name!r} expired at {row.expires.isoformat()}")
    return Principal(row.name, row.role)  # type: ignore[arg-type]


async def list_audit(
    session: AsyncSession, *, limit: int, before: int | None, resource: str | None, actor: str | None
) -> list[AuditOut]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(check_limit(limit))
    if before is not None:
        query = query.where(AuditEntry.id < before)
    if resource:
        query = query.where(AuditEntry.resource == resource)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    rows = (await session.execute(query)).scalars().all()
    return [
        AuditOut(
            id=r.id,
            at=r.at,
            actor=r.actor,
            role=r.role,
            action=r.action,
            resource=r.resource,
            name=r.name,
            detail=r.detail,
        )
        for r in rows
    ]
