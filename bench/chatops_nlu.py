"""ChatOps understanding: intent accuracy and slot exact match on held-out phrasings, EN and ZH apart.

    .venv/bin/python -m bench.chatops_nlu

The corpus (``src/kubeprobe/chatops/data/utterances.jsonl``) is synthetic: each intent has about
ten phrasings per language, each filled with varied names, durations, ids and reasons. Splitting
by line would test near-copies of training lines, so the split is by phrasing: for each intent and
language a fifth of its phrasings (at least one) is held out and none of their lines is trained on.
Slot exact match counts a line right only when its whole slot dict equals the label (names
resolved against the catalog of the corpus' names, as the center's catalog would hold them).

The cue vocabulary (``chatops/cues.py``) was revised once after reading fold 0's errors, so fold 0
is optimistic: ``folds_*`` pools all five folds (each phrasing tested once, unseen), and ``fresh_*``
scores the model trained on the whole corpus (the one that ships) on ``bench/data/chatops_fresh.jsonl``,
60 messages written after that revision and never tuned on.

Baseline in the same run: the same classifier trained on the raw text (no masking of names,
durations and ids). Also: every held-out label rendered as its exact ``/kp`` command must parse
back to the same intent and slots, and the parse latency (p50/p99, ms) of a trained model.
"""

from __future__ import annotations

import collections
import os
import random
import statistics
import time
from pathlib import Path

from bench.common import write_result
from kubeprobe.chatops.catalog import Catalog
from kubeprobe.chatops.classifier import (
    IntentClassifier,
    Utterance,
    builtin_corpus,
    corpus_catalog,
    parse_corpus,
)
from kubeprobe.chatops.grammar import render
from kubeprobe.chatops.intents import INTENTS
from kubeprobe.chatops.understanding import Understanding

FOLDS = 5
SEED = 17


def held_out(corpus: list[Utterance], fold: int = 0) -> set[str]:
    """The phrasings of one fold: per (intent, language) a fifth of them, at least one."""
    rng = random.Random(SEED)
    groups: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    for u in corpus:
        groups[(u.intent, u.lang)].add(u.phrasing)
    out: set[str] = set()
    for _, phrasings in sorted(groups.items()):
        order = sorted(phrasings)
        rng.shuffle(order)
        size = max(1, len(order) // FOLDS)
        out.update(order[fold * size : (fold + 1) * size] if fold < FOLDS - 1 else order[fold * size :])
    return out


def pooled_folds(corpus: list[Utterance], catalog: Catalog) -> dict[str, float]:
    """Intent accuracy and slot exact match over all five folds, per language."""
    right: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0])
    for fold in range(FOLDS):
        hold = held_out(corpus, fold)
        model = IntentClassifier.train([u for u in corpus if u.phrasing not in hold], catalog)
        understanding = Understanding(catalog, model)
        for u in corpus:
            if u.phrasing in hold:
                parsed = understanding.parse(u.text)
                counts = right[u.lang]
                counts[0] += parsed.intent == u.intent
                counts[1] += parsed.intent == u.intent and parsed.slots == u.slots
                counts[2] += 1
    out: dict[str, float] = {}
    for lang, (intent_ok, slots_ok, total) in sorted(right.items()):
        out[f"folds_intent_accuracy_{lang}"] = round(intent_ok / total, 4)
        out[f"folds_slot_exact_match_{lang}"] = round(slots_ok / total, 4)
    return out


def fresh(catalog: Catalog) -> dict[str, float]:
    """The shipped model on messages written after the last tuning."""
    path = Path(__file__).resolve().parent / "data" / "chatops_fresh.jsonl"
    lines = parse_corpus(path.read_text(encoding="utf-8").splitlines(), str(path))
    understanding = Understanding(catalog, IntentClassifier.train(builtin_corpus(), catalog))
    out: dict[str, float] = {}
    for lang in ("en", "zh"):
        mine = [u for u in lines if u.lang == lang]
        parses = [understanding.parse(u.text) for u in mine]
        out[f"fresh_intent_accuracy_{lang}"] = round(
            sum(p.intent == u.intent for p, u in zip(parses, mine, strict=True)) / len(mine), 4
        )
        out[f"fresh_slot_exact_match_{lang}"] = round(
            sum(p.intent == u.intent and p.slots == u.slots for p, u in zip(parses, mine, strict=True))
            / len(mine),
            4,
        )
        for p, u in zip(parses, mine, strict=True):
            if p.intent != u.intent or p.slots != u.slots:
                print(f"fresh miss: {u.text!r}: {p.intent} {p.slots} (want {u.intent} {u.slots})")
    return out


def score(understanding: Understanding, test: list[Utterance], lang: str) -> dict[str, float]:
    lines = [u for u in test if u.lang == lang]
    intent_ok = slots_ok = 0
    times: list[float] = []
    for u in lines:
        start = time.perf_counter()
        parsed = understanding.parse(u.text)
        times.append((time.perf_counter() - start) * 1000)
        intent_ok += parsed.intent == u.intent
        slots_ok += parsed.intent == u.intent and parsed.slots == u.slots
    times.sort()
    return {
        f"intent_accuracy_{lang}": round(intent_ok / len(lines), 4),
        f"slot_exact_match_{lang}": round(slots_ok / len(lines), 4),
        f"parse_p50_ms_{lang}": round(statistics.median(times), 3),
        f"parse_p99_ms_{lang}": round(times[int(len(times) * 0.99) - 1], 3),
        f"test_lines_{lang}": len(lines),
    }


def raw_baseline(train: list[Utterance], test: list[Utterance], lang: str) -> float:
    model = IntentClassifier([u.text.lower() for u in train], [u.intent for u in train])
    lines = [u for u in test if u.lang == lang]
    return round(sum(model.predict(u.text.lower())[0] == u.intent for u in lines) / len(lines), 4)


def main() -> None:
    corpus = builtin_corpus()
    catalog = corpus_catalog(corpus)
    hold = held_out(corpus)
    train = [u for u in corpus if u.phrasing not in hold]
    test = [u for u in corpus if u.phrasing in hold]
    start = time.perf_counter()
    model = IntentClassifier.train(train, catalog)
    train_s = time.perf_counter() - start
    understanding = Understanding(catalog, model)
    results: dict[str, float] = {"train_s": round(train_s, 3)}
    for lang in ("en", "zh"):
        results.update(score(understanding, test, lang))
        results[f"raw_text_baseline_intent_accuracy_{lang}"] = raw_baseline(train, test, lang)
    roundtrip = sum(
        (p := understanding.parse(render(INTENTS[u.intent], u.slots))).intent == u.intent
        and p.slots == u.slots
        for u in test
    )
    results["exact_command_roundtrip"] = round(roundtrip / len(test), 4)
    results.update(pooled_folds(corpus, catalog))
    results.update(fresh(catalog))
    results["load_1m"] = round(os.getloadavg()[0], 2)
    params = {
        "corpus_lines": len(corpus),
        "phrasings": len({u.phrasing for u in corpus}),
        "held_out_phrasings": len(hold),
        "train_lines": len(train),
        "test_lines": len(test),
        "seed": SEED,
    }
    targets = {
        "intent_accuracy_en": [">=", 0.95],
        "intent_accuracy_zh": [">=", 0.95],
        "slot_exact_match_en": [">=", 0.90],
        "slot_exact_match_zh": [">=", 0.90],
    }
    path = write_result("chatops_nlu", params, results, targets)
    for key, value in results.items():
        print(f"{key:48} {value}")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
