"""Remediation under risk control: actions, policies, the defender, the node agent.

defender/    risk control every remediation passes first (caps, rate limits, storms, breaker,
             freezes, leases with fencing, audit), over a store the center's replicas share
health.py    a cluster's node health kept from a watch, which the defender reads per decision
errors.py    the error tree of this layer
"""
