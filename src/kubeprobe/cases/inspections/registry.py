"""The registry of checks: an object, filled by the ``@register`` decorator of each check module.

There is no central list: :data:`CATALOG` imports every module of ``catalog/`` on first use, and
each module registers its checks. Two checks with one id are refused (:class:`DuplicateCheckError`).
"""

from __future__ import annotations

import fnmatch
import importlib
import pkgutil
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

from kubeprobe.cases.inspections.check import Check
from kubeprobe.cases.inspections.errors import DuplicateCheckError, UnknownCheckError

C = TypeVar("C", bound=type[Check])


class CheckRegistry:
    """Checks by id. ``autoload`` names a package whose modules are imported on first lookup."""

    def __init__(self, autoload: str | None = None) -> None:
        self._checks: dict[str, type[Check]] = {}
        self._lock = threading.Lock()
        self._autoload = autoload
        self._loaded = autoload is None

    def register(self, cls: C) -> C:
        """Class decorator: add a check; a second check with the same id is an error."""
        with self._lock:
            if cls.id in self._checks and self._checks[cls.id] is not cls:
                other = self._checks[cls.id]
                raise DuplicateCheckError(
                    f"check id {cls.id!r} is taken by {other.__module__}.{other.__qualname__}; "
                    f"{cls.__module__}.{cls.__qualname__} needs another id"
                )
            self._checks[cls.id] = cls
        return cls

    def _load(self) -> None:
        if self._loaded or self._autoload is None:
            return
        package = importlib.import_module(self._autoload)
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{self._autoload}.{info.name}")
        self._loaded = True

    def __iter__(self) -> Iterator[type[Check]]:
        self._load()
        return iter(sorted(self._checks.values(), key=lambda c: c.id))

    def __len__(self) -> int:
        self._load()
        return len(self._checks)

    def __contains__(self, check_id: object) -> bool:
        self._load()
        return check_id in self._checks

    def get(self, check_id: str) -> type[Check]:
        self._load()
        try:
            return self._checks[check_id]
        except KeyError:
            raise UnknownCheckError(
                f"unknown check {check_id!r}; `kubeprobe inspect --list` shows the "
                f"{len(self._checks)} known checks"
            ) from None

    def select(self, patterns: Iterable[str] = ()) -> list[type[Check]]:
        """Checks whose id matches any pattern (exact id or glob like ``pod.*``); all when none."""
        self._load()
        wanted = list(patterns)
        if not wanted:
            return list(self)
        chosen: dict[str, type[Check]] = {}
        for pattern in wanted:
            matches = [c for c in self if fnmatch.fnmatchcase(c.id, pattern)]
            if not matches:
                self.get(pattern)  # raises UnknownCheckError with the message
            chosen.update((c.id, c) for c in matches)
        return sorted(chosen.values(), key=lambda c: c.id)


CATALOG = CheckRegistry(autoload="kubeprobe.cases.inspections.catalog")
register = CATALOG.register
