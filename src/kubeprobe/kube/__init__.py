"""Kubernetes access: per-cluster clients, kubeconfigs, paged and streamed lists, watches, errors."""
