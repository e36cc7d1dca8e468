"""Remediation actions under risk control."""
