"""What routes depend on: the store, the secret box, and the caller's principal checked against a role."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from kubeprobe.center.auth import Principal, RoleName
from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.errors import AuthenticationError, PayloadTooLargeError, PermissionDeniedError
from kubeprobe.center.settings import CenterSettings
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.tokens import authenticate

bearer = HTTPBearer(auto_error=False, description="an API token (kp_...) or a run's report token (kpr_...)")


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.box
    return box


def get_settings(request: Request) -> CenterSettings:
    settings: CenterSettings = request.app.state.settings
    return settings


def role(needed: RoleName) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits callers whose role reaches `needed`."""

    async def check(
        request: Request,
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        store: Annotated[Store, Depends(get_store)],
    ) -> Principal:
        if creds is None or not creds.credentials:
            raise AuthenticationError("missing token: send 'Authorization: Bearer <token>'")
        async with store.transaction() as session:
            who = await authenticate(session, creds.credentials)
        if not who.allows(needed):
            raise PermissionDeniedError(f"token {who.name!r} has role {who.role}; this needs {needed}")
        who = on_behalf(request, who)
        request.state.principal = who
        return who

    return check


ON_BEHALF = "x-kubeprobe-on-behalf-of"
_CHAT_USER = re.compile(r"^[a-z]{2,16}:[!-~]{1,200}$")


def on_behalf(request: Request, who: Principal) -> Principal:
    """A delegate token (settings.chatops.delegates) asserting a chat user acts as that user, with
    the token's role; the name is bounded so that it fits every column that records it."""
    asserted = request.headers.get(ON_BEHALF)
    settings: CenterSettings = request.app.state.settings
    if not asserted or who.name not in settings.chatops.delegates:
        return who
    if not _CHAT_USER.match(asserted):
        raise PermissionDeniedError(f"{ON_BEHALF}: want <platform>:<user id> in printable ASCII")
    return Principal(f"{asserted[:48]} via {who.name}", who.role, who.run_id)


def check_batch_size(request: Request, field: str, count: int) -> None:
    """413 when a batch holds more items than ``max_batch`` allows."""
    limit: int = request.app.state.settings.max_batch
    if count > limit:
        raise PayloadTooLargeError(f"{field}: {count} {field} in one batch; allowed: at most {limit}")


StoreDep = Annotated[Store, Depends(get_store)]
BoxDep = Annotated[SecretBox, Depends(get_box)]
Viewer = Annotated[Principal, Depends(role("viewer"))]
Operator = Annotated[Principal, Depends(role("operator"))]
Admin = Annotated[Principal, Depends(role("admin"))]
Reporter = Annotated[Principal, Depends(role("reporter"))]


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """A JSON schema with its `$defs` references replaced by what they name (none are recursive)."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline(v, defs) for v in schema]
    return schema


def json_body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI `requestBody` for a route that parses its raw body itself (a fast path) but should
    still document (and be fuzzed against) the model it accepts."""
    schema = model.model_json_schema()
    inlined = _inline(schema, schema.get("$defs", {}))
    return {"required": True, "content": {"application/json": {"schema": inlined}}}


def wake_dispatcher(request: Request) -> None:
    """Runs were created: let this center's dispatcher claim them now rather than at its next poll."""
    wake = getattr(request.app.state, "dispatch_wake", None)
    if wake is not None:
        wake.set()
