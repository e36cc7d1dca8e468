"""ChatOps: operate KubeProbe from chat, in plain language, safely.

Understanding: ``intents`` (the fixed vocabulary and each intent's static definition), ``grammar``
(exact ``/kp`` commands), ``durations``, ``catalog`` (names and "did you mean"), ``slots`` and
``cues`` (what free text holds), ``classifier`` (scikit-learn, trained on ``data/utterances.jsonl``)
and ``understanding`` (one message → intent, slots, confidence).
The bot: ``config`` (roles, channel scopes, tokens), ``center`` (the center's HTTP API as a chat
user), ``actions`` (what each intent does), ``bot`` (the checks, confirmation, rate limits),
``help``, ``threads`` (one message per incident, edited in place), ``service`` (wiring) and
``adapters/`` (Matrix, Slack, DingTalk, Mattermost).
"""
