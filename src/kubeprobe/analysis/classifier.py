"""The statistical side of root-cause analysis: a text classifier over failure texts.

TF-IDF over word n-grams and character n-grams (error strings carry their meaning in fragments
like ``Insufficient cpu`` or ``x509``), then a logistic regression. Before vectorizing, names and
numbers are folded (addresses, hex ids and counts say nothing about the cause, except ``0/0``
nodes), and domain cues are added as marker tokens, also as a separate binary block: the
vocabulary Kubernetes, etcd, the Go resolver and HTTP clients use for a kind of failure (``no such
host`` and ``NXDOMAIN`` are DNS; ``cannot get resource`` is RBAC; 429 and ``throttling`` are rate
limits). The markers let a new phrasing that shares the vocabulary but not the wording of the
training texts land on the right cause. It is trained on the labeled
corpus that ships in ``data/corpus.jsonl`` plus operators' corrections (feedback lines in the same
format). Training takes seconds on a busy machine, so :func:`cached_classifier` keeps the trained
model on disk under a key hashed from the corpus, the feedback and the library versions: a center
restart loads it, and new feedback (a new key) retrains once.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import sklearn
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer

from kubeprobe.analysis.texts import FailureText, LabeledFailure
from kubeprobe.model import ROOT_CAUSES


class CorpusError(ValueError):
    """A corpus line is malformed or names an unknown cause; the message gives the line."""


def parse_corpus(lines: Iterable[str], source: str) -> list[LabeledFailure]:
    samples: list[LabeledFailure] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            failure = FailureText.from_json(obj)
        except ValueError as exc:
            raise CorpusError(f"{source}:{number}: {exc}") from exc
        cause = obj.get("cause")
        if cause not in ROOT_CAUSES:
            raise CorpusError(f"{source}:{number}: unknown cause {cause!r}")
        samples.append(LabeledFailure(failure, cause, {k: v for k, v in obj.items() if k == "phrasing"}))
    return samples


def builtin_corpus() -> list[LabeledFailure]:
    text = (resources.files("kubeprobe.analysis") / "data" / "corpus.jsonl").read_text()
    return parse_corpus(text.splitlines(), "corpus.jsonl")


@dataclass(frozen=True)
class Guess:
    cause: str
    confidence: float


#: Domain cues: the words real Kubernetes, etcd, runtime, resolver and client errors use for a kind
#: of failure, each turned into a marker token. General vocabulary, not whole messages.
MARKERS: tuple[tuple[str, str], ...] = (
    (
        r"\b0/0 nodes\b|\bno nodes\b|\b0 nodes\b|node list is empty|\b0 Ready\b|no (Ready|schedulable) nodes",
        "zero_nodes",
    ),
    (r"\b\d+/\d+ nodes are available", "nodes_available_ratio"),
    (
        r"no such host|NXDOMAIN|SERVFAIL|server misbehaving|nslookup|no servers could be reached|coredns"
        r"|\bDNS\b|:53\b|\blookup\b",
        "dns_resolution",
    ),
    (r"i/o timeout", "io_timeout"),
    (r"connection refused", "conn_refused"),
    (r"no route to host|connection reset|connection timed out", "conn_broken"),
    (
        r"\bcannot (get|list|watch|create|update|patch|delete) resource\b|\bRBAC\b|Unauthorized"
        r"|\bcredentials\b|system:anonymous|RoleBinding",
        "authz_denied",
    ),
    (r"\bforbidden\b", "forbidden"),
    (
        r"throttl|rate limit|\brate\b|TooManyRequests|too many requests|Priority and Fairness|flowcontrol"
        r"|priority level",
        "throttling",
    ),
    (
        r"ServiceUnavailable|unable to handle the request|GOAWAY|TLS handshake timeout|:6443\b|API server"
        r"|/readyz|/version",
        "apiserver_endpoint",
    ),
    (r"taint|tolerat|unschedulable|NoSchedule|NoExecute|cordon", "taint_words"),
    (r"affinity|nodeSelector|node selector|topology spread|Predicate", "affinity_words"),
    (
        r"Insufficient|enough (free )?(resource|cpu|memory)|\bOutOf|Too many pods|capacity",
        "insufficient_words",
    ),
    (r"NOSPACE|space exceeded|quota-backend-bytes|defrag|\bcompact|backend size|alarm", "etcd_space"),
    (r"etcd|:2379\b|raft|proposal|no leader|leader changed", "etcd_words"),
    (r"Pressure|low on resource|Evict", "pressure_words"),
    (
        r"NotReady|not Ready|not-ready|unreachable|Ready=False|PLEG|NetworkReady=false|stopped posting"
        r"|NodeStatusUnknown",
        "node_not_ready_words",
    ),
    (
        r"denied the request|PodSecurity|security context constraint|AdmissionPolicy|\bpolicy\b|violat",
        "policy_words",
    ),
    (r"quota", "quota_words"),
    (r"webhook", "webhook_words"),
    (r"failed calling webhook|failed to call webhook|failurePolicy", "webhook_call"),
    (r"scheduler|leader election|\blease\b|nodeName|scheduling decision|PodScheduled", "scheduler_words"),
    (
        r"ReplicaSet|replicas|progress deadline|ProgressDeadlineExceeded|controller-manager"
        r"|observedGeneration|currentRevision|statefulset|deployment",
        "controller_words",
    ),
    (
        r"CrashLoopBackOff|restart|exit code|exited|OOMKilled|Terminated|Liveness probe|Readiness probe",
        "container_exit_words",
    ),
    (
        r"did not finish|its deadline|the deadline|was killed|cancelled",
        "probe_deadline_words",
    ),
    (r"\bimage\b|ImagePull|ErrImage|pull", "image_words"),
    (r"sandbox|\bcni\b|ContainerCreating|networkPlugin|plugin type", "sandbox_words"),
    (r"volume|PersistentVolumeClaim|Mount|Attach|provision|StorageClass|csi", "volume_words"),
    (r"x509|certificate|\btls\b|notAfter", "cert_words"),
    (r"endpoints|dial tcp|\bEOF\b|connect:", "connect_words"),
)
_MARKERS = tuple((re.compile(pattern, re.IGNORECASE), token) for pattern, token in MARKERS)
_STATUS = re.compile(r"\b(400|401|403|404|409|410|422|429|500|502|503|504)\b")
_IP = re.compile(r"\b\d{1,3}(\.\d{1,3}){3}\b")
_HEX = re.compile(r"\b[0-9a-f]{6,}\b")
_NUM = re.compile(r"\b\d+(\.\d+)?\b")


def markers(text: str) -> list[str]:
    """The marker tokens of a text: its domain cues and HTTP status codes (``http_403``)."""
    return [token for rx, token in _MARKERS if rx.search(text)] + [f"http_{m}" for m in _STATUS.findall(text)]


def normalize(text: str) -> str:
    """Names and numbers folded (``0`` and ``0/0`` kept apart), marker tokens appended."""
    cues = markers(text)
    text = _IP.sub(" ipaddr ", text)
    text = _HEX.sub(" hexid ", text)
    text = re.sub(r"\b0/0\b", " zero_of_zero ", text)
    text = _NUM.sub(lambda m: " zero " if m.group(0) == "0" else " num ", text)
    return " ".join([text, *cues])


def _normalize_all(texts: Iterable[str]) -> list[str]:
    return [normalize(t) for t in texts]


def _markers_all(texts: Iterable[str]) -> list[str]:
    return [" ".join(markers(t)) or "no_marker" for t in texts]


#: Weight of the binary marker block next to the TF-IDF text block. This and C were chosen by
#: group cross-validation (held-out phrasings) inside the benchmark's training folds only.
MARKER_WEIGHT = 0.5
C = 8.0


class Classifier:
    """Failure text → (cause, probability)."""

    def __init__(self, samples: list[LabeledFailure]) -> None:
        if len({s.cause for s in samples}) < 2:
            raise CorpusError("training needs samples of at least two causes")
        text = FeatureUnion(
            [
                (
                    "words",
                    TfidfVectorizer(
                        ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"[A-Za-z][\w.\-/]+"
                    ),
                ),
                (
                    "chars",
                    TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2),
                ),
            ]
        )
        features = FeatureUnion(
            [
                ("text", Pipeline([("normalize", FunctionTransformer(_normalize_all)), ("tfidf", text)])),
                (
                    "markers",
                    Pipeline(
                        [
                            ("markers", FunctionTransformer(_markers_all)),
                            ("bag", CountVectorizer(binary=True, token_pattern=r"\S+", lowercase=False)),
                        ]
                    ),
                ),
            ],
            transformer_weights={"text": 1.0, "markers": MARKER_WEIGHT},
        )
        self.model = Pipeline([("features", features), ("clf", LogisticRegression(max_iter=1000, C=C))])
        self.model.fit([s.failure.text() for s in samples], [s.cause for s in samples])

    def rank(self, failure: FailureText, top: int = 3) -> list[Guess]:
        probs = self.model.predict_proba([failure.text()])[0]
        classes = self.model.classes_
        order = sorted(range(len(classes)), key=lambda i: -probs[i])[:top]
        return [Guess(str(classes[i]), float(probs[i])) for i in order]

    def predict(self, failure: FailureText) -> Guess:
        return self.rank(failure, 1)[0]


def feedback_samples(path: Path | None) -> list[LabeledFailure]:
    if path is None or not path.exists():
        return []
    return parse_corpus(path.read_text().splitlines(), str(path))


@lru_cache(maxsize=4)
def default_classifier(feedback: Path | None = None) -> Classifier:
    """Trained on the shipped corpus plus the feedback file (operators' corrections), if any."""
    return Classifier(builtin_corpus() + feedback_samples(feedback))


#: Bump when the features or the model change, so cached models of the old shape are not loaded.
MODEL_VERSION = "3"


def training_key(samples: list[LabeledFailure]) -> str:
    """A hash of everything training depends on: the samples, the model version, scikit-learn."""
    digest = hashlib.sha256(f"{MODEL_VERSION}|{sklearn.__version__}|".encode())
    for s in samples:
        digest.update(json.dumps([s.failure.text(), s.cause]).encode())
        digest.update(b"\n")
    return digest.hexdigest()[:24]


def cached_classifier(extra: list[LabeledFailure], cache_dir: Path | None) -> Classifier:
    """Trained on the shipped corpus plus ``extra``, loaded from ``cache_dir`` when trained before.

    The cache holds pickles this process wrote itself (in the center's private data directory);
    an unreadable one is retrained and replaced. Old models of other keys are removed.
    """
    samples = builtin_corpus() + extra
    if cache_dir is None:
        return Classifier(samples)
    key = training_key(samples)
    path = cache_dir / f"rca-model-{key}.pickle"
    try:
        with path.open("rb") as fh:
            model = pickle.load(fh)  # our own file, see above
        if isinstance(model, Classifier):
            return model
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        pass
    model = Classifier(samples)
    try:  # a cache that cannot be written (read-only filesystem, full disk) only costs the next start
        cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".rca-model-")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(model, fh)
        os.replace(tmp, path)
        for old in cache_dir.glob("rca-model-*.pickle"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass
    return model
