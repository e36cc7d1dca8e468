"""Errors of remediation.

Why a tree of its own: the center must tell "the defender said no" (a normal, recorded outcome)
from "the shared state could not be updated" (retry, or give up on this decision) from "the action
went wrong in the cluster" (counts against the breaker) from "this replica lost its lease" (stop at
once: another replica owns the target now).

    RemedyError
    ├── DefenderBusyError        the shared defender state kept changing under us; nothing was taken
    ├── UnknownRemediationError  no remediation, breaker or pause with that name in the state
    ├── FenceError               the lease on the target is gone or newer than ours: do not act
    ├── PreconditionError        an action's preconditions do not hold (nothing was changed)
    ├── ActionError              executing, verifying or undoing an action failed in the cluster
    └── PolicyError              a policy is malformed; the message names the field
"""

from __future__ import annotations


class RemedyError(Exception):
    """Anything that went wrong in remediation."""


class DefenderBusyError(RemedyError):
    """Too many concurrent updates of the shared state; the decision was not taken."""


class UnknownRemediationError(RemedyError):
    """The state has no entry with that key."""


class FenceError(RemedyError):
    """Our fencing token is no longer the target's current one: another replica owns it."""


class PreconditionError(RemedyError):
    """The action's preconditions do not hold; nothing was changed."""


class ActionError(RemedyError):
    """An action failed in the cluster."""


class PolicyError(RemedyError):
    """A policy is malformed."""
