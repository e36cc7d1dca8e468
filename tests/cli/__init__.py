"""Tests of the `kubeprobe` command's center subcommands against a real running center."""
