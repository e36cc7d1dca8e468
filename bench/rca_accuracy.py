"""Root-cause classifier accuracy on a held-out fifth of the shipped corpus (never used in training).

    .venv/bin/python -m bench.rca_accuracy

Stratified by cause with a fixed seed; reports top-1 and top-3 accuracy of the classifier alone
and of rules + classifier combined, and the training time.
"""

from __future__ import annotations

import collections
import random
import time

from bench.common import write_result
from kubeprobe.analysis.classifier import Classifier, builtin_corpus
from kubeprobe.analysis.diagnosis import diagnose
from kubeprobe.analysis.rules import builtin_rules


def main() -> None:
    corpus = builtin_corpus()
    by_cause: dict[str, list[int]] = collections.defaultdict(list)
    for i, sample in enumerate(corpus):
        by_cause[sample.cause].append(i)
    rng = random.Random(5)
    held: set[int] = set()
    for indices in by_cause.values():
        held.update(rng.sample(indices, k=max(1, len(indices) // 5)))
    train = [s for i, s in enumerate(corpus) if i not in held]
    test = [s for i, s in enumerate(corpus) if i in held]
    start = time.perf_counter()
    classifier = Classifier(train)
    train_s = time.perf_counter() - start
    rules = builtin_rules()
    top1 = top3 = combined = 0
    start = time.perf_counter()
    for sample in test:
        ranked = classifier.rank(sample.failure, 3)
        top1 += ranked[0].cause == sample.cause
        top3 += any(g.cause == sample.cause for g in ranked)
        combined += diagnose(sample.failure, classifier, rules).cause == sample.cause
    per_item_ms = (time.perf_counter() - start) / len(test) * 1000
    # Harder: per cause, one phrasing never seen in training (how well it generalises to new wording).
    last = {c: max(corpus[i].extra.get("phrasing", 0) for i in idx) for c, idx in by_cause.items()}
    unseen_test = [s for s in corpus if last[s.cause] > 0 and s.extra.get("phrasing") == last[s.cause]]
    unseen_train = [s for s in corpus if not (last[s.cause] > 0 and s.extra.get("phrasing") == last[s.cause])]
    unseen_clf = Classifier(unseen_train)
    unseen_top1 = sum(unseen_clf.predict(s.failure).cause == s.cause for s in unseen_test)
    unseen_combined = sum(diagnose(s.failure, unseen_clf, rules).cause == s.cause for s in unseen_test)
    path = write_result(
        "rca_accuracy",
        {
            "corpus": len(corpus),
            "train": len(train),
            "held_out": len(test),
            "causes": len(by_cause),
            "seed": 5,
            "corpus_note": "synthetic: real Kubernetes error phrasings with varied names and numbers",
        },
        {
            "classifier_top1": round(top1 / len(test), 4),
            "classifier_top3": round(top3 / len(test), 4),
            "rules_plus_classifier_top1": round(combined / len(test), 4),
            "unseen_phrasing_classifier_top1": round(unseen_top1 / len(unseen_test), 4),
            "unseen_phrasing_rules_plus_classifier_top1": round(unseen_combined / len(unseen_test), 4),
            "train_s": round(train_s, 3),
            "diagnose_ms_per_item": round(per_item_ms, 3),
        },
        {"classifier_top1": [">=", 0.85], "rules_plus_classifier_top1": [">=", 0.85]},
    )
    print(path.read_text())


if __name__ == "__main__":
    main()
