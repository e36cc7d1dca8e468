"""Incidents, routing, silences and maintenance windows, notifiers."""
