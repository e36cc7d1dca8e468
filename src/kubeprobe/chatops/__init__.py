"""ChatOps: operate KubeProbe from chat, in plain language, safely.

``intents`` (the fixed vocabulary and each intent's static definition), ``grammar`` (exact ``/kp``
commands), ``durations``, ``catalog`` (names and "did you mean"), ``slots`` and ``cues`` (what free
text holds), ``classifier`` (scikit-learn, trained on ``data/utterances.jsonl``) and
``understanding`` (one message → intent, slots, confidence).
"""
