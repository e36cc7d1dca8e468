"""Resident ProbeOperator (kopf): ProbeConfig CRD, probe loops, denoising, token bucket, buffer."""
