"""Built-in black-box probes, one module each; each registers itself with the case registry."""
