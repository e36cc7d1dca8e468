"""A local real Kubernetes control plane with kwok nodes, for tests and demos, and fault injection."""
