"""What the API server (or etcd behind it) answered a failing run, read as a cause.

A run that failed on an API call carries the server's own words: the HTTP status and the Status
``reason`` (``the API server said 403 Forbidden: ...``), its ``message`` (which names the quota,
the webhook, the policy, the user and verb that were refused, the etcd error), or the client's
words when nothing answered (refused, reset, timed out). Those words are evidence of the run
itself, surer than anything guessed from the text's likeness to other failures, so they are read
first, before the rules and the classifier (:mod:`kubeprobe.analysis.diagnosis`).

Every status a probe can receive is covered, most specific first:

- admission: ``exceeded quota`` → ``admission.quota_exceeded``; ``failed calling webhook "w"``
  (the webhook did not answer: refused, timed out, bad TLS, 5xx) → ``admission.webhook_failure``;
  ``admission webhook "w" denied the request``, ``ValidatingAdmissionPolicy 'p' ... denied``,
  ``violates PodSecurity`` → ``admission.policy_denied``;
- etcd through the API server: ``etcdserver: mvcc: database space exceeded`` (NOSPACE) →
  ``etcd.quota``; ``etcdserver: request timed out | leader changed | no leader | ...`` →
  ``etcd.unavailable``;
- 429 ``TooManyRequests`` (API Priority and Fairness) and client-side rate limiting →
  ``apiserver.throttled``;
- 401 ``Unauthorized`` and RBAC's 403 (``User "u" cannot verb resource "r"``) → ``auth.forbidden``;
- 5xx ``ServiceUnavailable`` / ``Timeout`` / ``unable to handle the request``, and the API server
  itself not answering (connection refused or reset, TLS handshake or request timeouts on its
  address) → ``apiserver.unavailable``.

A connection error counts only when it names the API server's address (when known): a refused
connection to another address is the path the probe tested, not the API server. A case in a run
pod that could not start because the API server's in-cluster address did not answer (another
address than the center's) → ``network.connection`` (pod network, kube-proxy); the component
evidence still wins when the API server itself is down.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Answer:
    """One reading: the cause, how sure, and the server's words it rests on."""

    cause: str
    confidence: float
    basis: str  # what was recognised, for people ("webhook fault.example.io did not answer")
    words: str  # the message it was read from (cut)
    subject: str = ""  # the named webhook, policy, quota, user ... when the words name one


_STATUS = r"(?:\b(?P<code>[45]\d\d) (?P<reason>[A-Za-z]+): )?"
#: (pattern, cause, confidence, basis); ``{s}`` in the basis is the pattern's ``subject`` group.
PATTERNS: tuple[tuple[str, str, float, str], ...] = (
    (
        r"exceeded quota: (?P<subject>[\w.-]+)",
        "admission.quota_exceeded",
        0.98,
        "the ResourceQuota {s} is used up",
    ),
    (
        r"failed quota: (?P<subject>[\w.-]+)|must specify (limits|requests)\.",
        "admission.quota_exceeded",
        0.95,
        "a ResourceQuota {s} refuses the object",
    ),
    (
        r"failed (calling|to call) webhook \"(?P<subject>[^\"]+)\"",
        "admission.webhook_failure",
        0.97,
        "the admission webhook {s} did not answer",
    ),
    (
        r"failed (calling|to call) webhook|Internal error occurred: .*webhook",
        "admission.webhook_failure",
        0.93,
        "an admission webhook did not answer",
    ),
    (
        r"admission webhook \"(?P<subject>[^\"]+)\" denied the request",
        "admission.policy_denied",
        0.96,
        "the admission webhook {s} denied the request",
    ),
    (
        r"ValidatingAdmissionPolicy '(?P<subject>[^']+)'.* denied request",
        "admission.policy_denied",
        0.97,
        "the ValidatingAdmissionPolicy {s} denied the request",
    ),
    (
        r"violates PodSecurity \"(?P<subject>[^\"]+)\"",
        "admission.policy_denied",
        0.96,
        "Pod Security admission ({s}) denied the pod",
    ),
    (
        r"etcdserver: mvcc: database space exceeded|\bNOSPACE\b|etcdserver: no space",
        "etcd.quota",
        0.98,
        "etcd is out of space (NOSPACE alarm): writes are refused",
    ),
    (
        r"etcdserver: (?P<subject>request timed out|leader changed|no leader|server stopped|unhealthy cluster"
        r"|too many requests|request cancelled)|etcd cluster is unavailable",
        "etcd.unavailable",
        0.93,
        "etcd answered the API server: {s}",
    ),
    (
        r"\b429 TooManyRequests\b|\b429\b.*(too many requests|try again later)|TooManyRequests"
        r"|has received too many requests|too many requests, please try again later",
        "apiserver.throttled",
        0.96,
        "the API server rejected the request (429, API Priority and Fairness)",
    ),
    (
        r"client-side throttling|client rate limiter|rate: Wait",
        "apiserver.throttled",
        0.9,
        "the client's own rate limiter held the request back",
    ),
    (
        r"\b401 Unauthorized\b|\bUnauthorized\b|provide credentials",
        "auth.forbidden",
        0.95,
        "the API server did not accept the credentials (401)",
    ),
    (
        r"User \"(?P<subject>[^\"]+)\" cannot \w+ resource",
        "auth.forbidden",
        0.97,
        "RBAC forbids {s} the request (403)",
    ),
    (
        r"\b503 ServiceUnavailable\b|currently unable to handle the request|\b50[34] [A-Za-z]+: .*(apiserver|"
        r"kube-apiserver)",
        "apiserver.unavailable",
        0.9,
        "the API server answered {code} {reason}",
    ),
    (
        r"\b504 Timeout\b|unable to return a response in the time allotted|request did not complete within",
        "apiserver.unavailable",
        0.85,
        "the API server timed out the request",
    ),
)
_COMPILED = tuple((re.compile(p, re.IGNORECASE), c, conf, b) for p, c, conf, b in PATTERNS)
#: Words that make a reading someone else's: a registry's rate limit or refusal is an image pull's.
_REGISTRY = re.compile(r"pull|registry|\bimage\b|sandbox", re.IGNORECASE)
_NOT_OURS = {"apiserver.throttled": _REGISTRY, "auth.forbidden": _REGISTRY}
_CONNECTION = re.compile(
    r"cannot reach the API server|connection refused|connection reset|\bEOF\b|TLS handshake timeout"
    r"|timed out|i/o timeout|no route to host",
    re.IGNORECASE,
)


#: A case that could not start its work (kubeprobe.cases.execute), naming the address it used.
_COULD_NOT_RUN = re.compile(r"could not run \S+ on cluster \S+: (?:https?://)?(?P<address>[^\s/]+?):? ")


def _cut(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_answers(messages: Iterable[str], apiserver: str = "") -> list[Answer]:
    """Every reading of the messages, surest first (one per cause)."""
    found: dict[str, Answer] = {}
    host = re.sub(r"^https?://", "", apiserver).rstrip("/")
    for message in messages:
        for rx, cause, confidence, basis in _COMPILED:
            m = rx.search(message)
            if m is None or ((other := _NOT_OURS.get(cause)) is not None and other.search(message)):
                continue
            groups = m.groupdict()
            subject = (groups.get("subject") or "").strip()
            status = re.search(r"\b(?P<code>[45]\d\d) (?P<reason>[A-Za-z]+):", message)
            text = basis.format(
                s=subject or "(unnamed)",
                code=status["code"] if status else "5xx",
                reason=status["reason"] if status else "",
            ).replace("  ", " ")
            _keep(found, Answer(cause, confidence, text, _cut(message), subject))
        if host and host in message and _CONNECTION.search(message):
            how = _CONNECTION.search(message)
            assert how is not None
            basis = f"the API server at {host} did not answer ({how.group(0)})"
            _keep(found, Answer("apiserver.unavailable", 0.9, basis, _cut(message), host))
        elif host and (run := _COULD_NOT_RUN.search(message)) and (how := _CONNECTION.search(message)):
            # The case ran in a pod and used the API server's in-cluster address (the `kubernetes`
            # Service), not the one the center reaches: the pod network or kube-proxy failed.
            address = run["address"]
            basis = (
                f"the case's pod could not reach the API server at {address} ({how.group(0)}), "
                f"the address pods use, not {host}: pod network or Service routing (kube-proxy)"
            )
            _keep(found, Answer("network.connection", 0.9, basis, _cut(message), address))
    return sorted(found.values(), key=lambda a: -a.confidence)


def _keep(found: dict[str, Answer], answer: Answer) -> None:
    old = found.get(answer.cause)
    if old is None or answer.confidence > old.confidence:
        found[answer.cause] = answer


def first_answer(messages: Iterable[str], apiserver: str = "") -> Answer | None:
    """The surest reading, or None when the messages hold no answer of the API server."""
    answers = read_answers(messages, apiserver)
    return answers[0] if answers else None
