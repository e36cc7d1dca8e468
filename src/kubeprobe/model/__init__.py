"""Domain types shared by all layers: Run, Step, Finding, Severity, RootCause, CaseSpec. No I/O."""
