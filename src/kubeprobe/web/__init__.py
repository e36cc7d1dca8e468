"""The dashboard served by the center."""
