"""The node agent (KubeNode's agent): a DaemonSet pod on each node that carries out the
RemedyOperations naming its node, and only what they name, and reports the outcome in their
status (:mod:`kubeprobe.remedy.operations` is the contract).

loop.py       list + watch this node's operations; claim, act once, report; refuse the unknown
restarter.py  how a component is restarted: through the sandbox's supervisor (host files, hostPID)
__main__.py   ``python -m kubeprobe.remedy.agent``: settings from ``KUBEPROBE_AGENT_*``
"""
