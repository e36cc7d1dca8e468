"""The statistical side of root-cause analysis: a text classifier over failure texts.

TF-IDF over word n-grams and character n-grams (error strings carry their meaning in fragments
like ``Insufficient cpu`` or ``x509``), then a logistic regression. It is trained on the labeled
corpus that ships in ``data/corpus.jsonl`` plus operators' corrections (feedback lines in the same
format), in well under a second, so it is trained at first use rather than stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

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


class Classifier:
    """Failure text → (cause, probability)."""

    def __init__(self, samples: list[LabeledFailure]) -> None:
        if len({s.cause for s in samples}) < 2:
            raise CorpusError("training needs samples of at least two causes")
        features = FeatureUnion(
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
        self.model = Pipeline([("features", features), ("clf", LogisticRegression(max_iter=500, C=8.0))])
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
