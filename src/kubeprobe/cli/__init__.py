"""The `kubeprobe` command."""
