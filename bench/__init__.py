"""Benchmarks, run on purpose (never by the test command); each writes bench/results/<name>.json."""
