"""Built-in cases: probes/ and inspections/, one module each, and their registry."""
