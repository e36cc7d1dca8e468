"""API models of triggers: change events accepted, watches' status, and Kuberhealthy's check report."""

from __future__ import annotations

from pydantic import BaseModel, Field


class EventAccepted(BaseModel):
    event: str
    cluster: str
    runs: list[str]
    coalesced: int = Field(
        description="cases skipped because an event run for them started within the window"
    )


class WatchStatus(BaseModel):
    cluster: str
    resource: str = Field(description="resource.group/namespace[/name][?selector]; namespace * is all")
    targets: int = Field(description="(binding, case) pairs that a change here runs")
    state: str = Field(description="starting, watching, retrying (with back-off), or error")
    message: str


class KuberhealthyReport(BaseModel):
    """Kuberhealthy's check report, as its own client sends it.

    Kuberhealthy sets no limits on ``Errors``; the native report does (1,000 messages of 8 KiB).
    Rather than refuse a failed check's result, :meth:`messages` keeps what fits and says how much
    was cut, so the run still ends ``failed`` with the first errors.
    """

    OK: bool
    Errors: list[str] = Field(default_factory=list, max_length=100_000)

    def messages(self, max_messages: int = 1000, max_chars: int = 8192) -> list[str]:
        errors = [e for e in self.Errors if e.strip()]
        if not errors:
            return [] if self.OK else ["check failed without an error"]
        kept = [e if len(e) <= max_chars else e[: max_chars - 20] + " [... cut]" for e in errors]
        if len(kept) > max_messages:
            kept = [*kept[: max_messages - 1], f"... and {len(kept) - max_messages + 1} more errors"]
        return kept
