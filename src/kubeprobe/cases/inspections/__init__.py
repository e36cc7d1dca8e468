"""Targeted inspections: a collection layer lists each resource once per sweep, checks draw findings.

- ``check``: what a check is (needs, observe, findings), ``FleetCheck`` for cross-cluster ones;
- ``registry``: the ``CATALOG`` registry, filled by ``@register`` in the modules of ``catalog/``;
- ``engine``: one sweep of one cluster for many checks, and the fleet comparison;
- ``exclusions``, ``settings``, ``sources``: silencing rules, thresholds, inventories and IPAM;
- ``report``, ``output``: what a sweep produced, as a table, JSON or JUnit;
- ``case``: the catalog as the ``inspect`` case template of the center.
"""
