"""Turn (case, cluster) into a run: pod runner (in the target cluster) and local runner."""
