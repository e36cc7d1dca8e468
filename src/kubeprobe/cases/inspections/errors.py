"""Errors of inspections: bad input is an error with a message, never a finding.

InspectionError
├── UnknownCheckError        a check id that the registry does not hold
├── DuplicateCheckError      two checks registered under one id
├── SettingsError            a settings file or value that cannot be used
├── ExclusionError           an exclusion that cannot be parsed
└── SourceError              an inventory or IPAM source that cannot be read or parsed
"""

from __future__ import annotations


class InspectionError(Exception):
    """Anything that stops an inspection before it can say something about a cluster."""


class UnknownCheckError(InspectionError):
    """A check id that no registered check has."""


class DuplicateCheckError(InspectionError):
    """A second check registered under an id already taken."""


class SettingsError(InspectionError):
    """Settings that cannot be used; the message names the file or field."""


class ExclusionError(InspectionError):
    """An exclusion rule that cannot be parsed."""


class SourceError(InspectionError):
    """An inventory or IPAM export that cannot be read or parsed."""


class CheckSkipped(InspectionError):
    """A check does not apply here: an input it needs (an inventory, an IPAM export) is not set."""
