"""The trained classifier is cached where the center keeps its data, and a cache that cannot be
written never fails an analysis (a read-only root filesystem in the Helm chart, a full disk)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeprobe.analysis import classifier as clf
from kubeprobe.center.app import _with_model_cache
from kubeprobe.center.settings import CenterSettings


@pytest.fixture
def small_corpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """A slice of the shipped corpus with several causes: trains in well under a second."""
    corpus = clf.builtin_corpus()
    causes: dict[str, int] = {}
    picked = []
    for sample in corpus:
        if causes.get(sample.cause, 0) < 5:
            causes[sample.cause] = causes.get(sample.cause, 0) + 1
            picked.append(sample)
    monkeypatch.setattr(clf, "builtin_corpus", lambda: list(picked))


def test_trained_once_then_loaded(
    tmp_path: Path, small_corpus: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "models"
    first = clf.cached_classifier([], cache)
    (pickle,) = cache.glob("rca-model-*.pickle")
    assert cache.stat().st_mode & 0o077 == 0  # pickles are loaded: only this user may write them

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("trained again although a cached model exists")

    monkeypatch.setattr(clf.Classifier, "__init__", no_training)
    again = clf.cached_classifier([], cache)
    assert isinstance(again, clf.Classifier)
    assert type(again) is type(first)
    assert list(cache.glob("rca-model-*.pickle")) == [pickle]


def test_an_unwritable_cache_still_gives_a_model(tmp_path: Path, small_corpus: None) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    model = clf.cached_classifier([], blocker / "models")
    assert isinstance(model, clf.Classifier)


def test_the_center_caches_in_its_data_dir(tmp_path: Path) -> None:
    settings = CenterSettings(data_dir=tmp_path)
    assert _with_model_cache(settings).model_cache == tmp_path / "models"
    chosen = CenterSettings(data_dir=tmp_path, analysis={"model_cache": tmp_path / "elsewhere"})
    assert _with_model_cache(chosen).model_cache == tmp_path / "elsewhere"
