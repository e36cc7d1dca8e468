"""Shared pytest setup: only the sandbox fixture plugin; each subsystem keeps its own conftest."""

pytest_plugins = ["kubeprobe.sandbox.testing"]
