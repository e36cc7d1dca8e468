"""Typed access to a case's rendered parameters (one environment variable each)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, TypeVar, overload

from kubeprobe.sdk.contract import param_env_name

T = TypeVar("T")


class ParamError(ValueError):
    """A parameter is missing or does not parse as its type."""


def _bool(text: str) -> bool:
    low = text.strip().lower()
    if low in {"1", "true", "yes", "on"}:
        return True
    if low in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _convert(text: str, kind: type[Any] | Callable[[str], Any]) -> Any:
    if kind is bool:
        return _bool(text)
    if kind in (list, dict):
        value = json.loads(text)
        if not isinstance(value, kind):  # type: ignore[arg-type]
            raise ValueError(f"not a JSON {kind.__name__}")
        return value
    return kind(text)


@overload
def param(name: str, kind: type[T], default: T) -> T: ...
@overload
def param(name: str, kind: type[T]) -> T: ...
def param(name: str, kind: type[T], default: Any = ..., env: dict[str, str] | None = None) -> T:
    """``param("replicas", int, 3)`` reads ``REPLICAS`` as an int, or returns the default."""
    source = os.environ if env is None else env
    var = param_env_name(name)
    raw = source.get(var)
    if raw is None:
        if default is ...:
            raise ParamError(f"parameter {name!r} is required: set {var}")
        return default  # type: ignore[no-any-return]
    try:
        return _convert(raw, kind)  # type: ignore[no-any-return]
    except (ValueError, TypeError) as exc:
        raise ParamError(f"parameter {name!r} ({var}={raw!r}) is not a valid {kind.__name__}: {exc}") from exc
