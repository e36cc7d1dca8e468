"""Remediation under risk control: actions, policies, the defender, the node agent.

defender/    risk control every remediation passes first (caps, rate limits, storms, breaker,
             freezes, leases with fencing, audit), over a store the center's replicas share
health.py    a cluster's node health kept from a watch, which the defender reads per decision
actions/     the actions: tier, preconditions, dry-run plan, execute, verify, undo; their registry
execution.py one attempt of a remediation under the defender (plan → decide → act → verify → outcome)
operations.py the RemedyOperation contract between the center and the node agent (CRD in, status out)
agent/       the node agent: carries out its node's RemedyOperations
policies.py  cause + scope selectors → a ladder of actions (timeout, max tries), mode shadow/approval/auto
errors.py    the error tree of this layer
"""
