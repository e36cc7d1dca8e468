"""Errors of the sandbox. Each message says what went wrong and what to do about it.

SandboxError
├── ToolchainError       Go is missing or too old to build the pinned components
├── BuildError           a `go` command failed; carries the command and its log file
├── SandboxStateError    the sandbox does not exist, already runs, or its folder is unusable
├── PortInUseError       a port the sandbox needs is taken by another process
└── StartupError         a component exited or did not become ready; names its log
"""

from __future__ import annotations

from pathlib import Path


class SandboxError(Exception):
    """Something about the sandbox went wrong; the message tells the user what to do."""


class ToolchainError(SandboxError):
    """The Go toolchain is missing or cannot build the pinned versions."""


class BuildError(SandboxError):
    """A build command failed."""

    def __init__(self, component: str, command: list[str], log: Path, tail: str) -> None:
        cmd = " ".join(command)
        super().__init__(
            f"building {component} failed.\n  command: {cmd}\n  log: {log}\n  last lines of the log:\n{tail}"
        )
        self.component = component
        self.command = command
        self.log = log


class SandboxStateError(SandboxError):
    """The sandbox is not in a state that allows the action."""


class PortInUseError(SandboxError):
    """A port the sandbox was told to use is taken."""


class StartupError(SandboxError):
    """A component did not start or did not become ready."""
