"""The catalog of checks: one module per area; each registers its checks with ``@register``.

Every module here is imported by :data:`kubeprobe.cases.inspections.registry.CATALOG` on first
use, so a new check is a new class in a module of this folder and nothing else changes.
"""
