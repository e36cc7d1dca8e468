"""KubeProbe: finds problems in Kubernetes clusters before their users do."""

__version__ = "0.1.0"
