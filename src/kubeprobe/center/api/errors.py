"""Turning errors into JSON answers: `{"detail": message, "field": name}` with the error's status."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from kubeprobe.center.errors import AuthenticationError, CenterError


def _where(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "body"


def describe(errors: list[dict[str, Any]]) -> tuple[str, str]:
    """The first error as 'field: what is wrong (and what is allowed)'."""
    first = errors[0]
    loc = tuple(first.get("loc", ()))
    field = _where(loc)
    msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    if first.get("type") == "missing":
        msg = "required field is missing"
    elif first.get("type") == "extra_forbidden":
        msg = "unknown field"
    return field, f"{field}: {msg}"


def install(app: FastAPI) -> None:
    @app.exception_handler(CenterError)
    async def center_error(request: Request, exc: CenterError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationError) else None
        return JSONResponse(
            {"detail": exc.message, "field": exc.field}, status_code=exc.status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [dict(e) for e in exc.errors()]
        field, message = describe(errors) if errors else ("body", "invalid request")
        details = [
            {"field": _where(tuple(e.get("loc", ()))), "message": str(e.get("msg"))} for e in errors[:20]
        ]
        return JSONResponse({"detail": message, "field": field, "errors": details}, status_code=422)
