"""Fuzz targets (hypothesis) for what the center parses from untrusted text: kubeconfigs, matchers.

Each target runs a bounded number of examples (``KUBEPROBE_FUZZ_EXAMPLES``, default 200; more by
hand), with no example database, so a CI run takes seconds and is the same every time.
Properties: only the layer's own error escapes, every call ends quickly, and what is accepted is
safe (a stored kubeconfig never names a file; a matcher agrees with Python's ``re`` where both apply).
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeprobe.alerting.matchers import Matcher, MatcherError
from kubeprobe.kube.config import parse_kubeconfig
from kubeprobe.kube.errors import KubeConfigError

EXAMPLES = int(os.environ.get("KUBEPROBE_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # timing is asserted per call below, with a bound that holds on a loaded machine
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
#: One parse or one match may take this long at most (well under a millisecond when the machine is quiet).
BOUND_S = 1.0

FILE_FIELDS = ["certificate-authority", "client-certificate", "client-key", "tokenFile"]
USER_FIELDS = [
    "token",
    "client-certificate-data",
    "client-key-data",
    "client-certificate",
    "client-key",
    "tokenFile",
    "exec",
    "auth-provider",
    "username",
    "password",
    "as",
]
CLUSTER_FIELDS = ["server", "certificate-authority-data", "certificate-authority", "insecure-skip-tls-verify"]
scalars = st.one_of(
    st.text(max_size=40), st.integers(), st.booleans(), st.none(), st.just("/etc/shadow"), st.just("Zm9v")
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
)


@st.composite
def kubeconfigs(draw: st.DrawFn) -> dict[str, Any]:
    """Kubeconfig-shaped documents with any mix of good, file, command and unknown fields."""
    cluster = {k: draw(values) for k in draw(st.sets(st.sampled_from(CLUSTER_FIELDS)))}
    if draw(st.booleans()):
        cluster["server"] = draw(st.sampled_from(["https://127.0.0.1:6443", "http://x", "ftp://x"]))
    user = {k: draw(values) for k in draw(st.sets(st.sampled_from(USER_FIELDS)))}
    context = {
        "cluster": draw(st.sampled_from(["k", "other"])),
        "user": draw(st.sampled_from(["u", "nobody"])),
    }
    return {
        "clusters": [{"name": "k", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "c", "context": context}],
        "current-context": draw(st.sampled_from(["c", "missing"])),
    }


def _parse(text: str) -> Any:
    started = time.perf_counter()
    got: Any
    try:
        got = parse_kubeconfig(text)
    except KubeConfigError as exc:
        got = exc
    assert time.perf_counter() - started < BOUND_S
    assert len(str(got)) < 2000, "an error message that repeats the input"
    return got


@FUZZ
@given(kubeconfigs())
def test_kubeconfig_documents(doc: dict[str, Any]) -> None:
    got = _parse(yaml.safe_dump(doc))
    used = {**doc["clusters"][0]["cluster"], **doc["users"][0]["user"]}
    if any(field in used for field in FILE_FIELDS):
        assert isinstance(got, KubeConfigError), "a kubeconfig naming a file was accepted"


@FUZZ
@given(st.text(max_size=2000))
def test_kubeconfig_text(text: str) -> None:
    _parse(text)


yaml_tokens = st.sampled_from(
    ["&a ", "*a", "&b ", "*b", "[", "]", "{", "}", ": ", "- ", "\n", "  ", "x", "<<: ", "!!str ", "'", ","]
)


@FUZZ
@given(st.lists(yaml_tokens, max_size=80).map("".join))
def test_kubeconfig_yaml_syntax(text: str) -> None:
    """Anchors, aliases, merge keys and nesting in any order: refused or parsed, never more."""
    got = _parse("clusters: []\ncurrent-context: " + text)
    if "*a" in text or "*b" in text:
        assert isinstance(got, KubeConfigError)


regex_atoms = st.sampled_from(["a", "b", ".", "[ab]", "\\.", "x"])


def _regexes() -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, inner).map("".join),
            st.tuples(inner, inner).map("|".join),
            inner.map(lambda r: f"({r})"),
            st.tuples(inner, st.sampled_from(["*", "+", "?", "{2}", "{1,3}"])).map("".join),
        )

    return st.recursive(regex_atoms, extend, max_leaves=12)


@FUZZ
@given(_regexes(), st.text(alphabet="abx.Z", max_size=30))
def test_matchers_agree_with_re_in_linear_time(pattern: str, value: str) -> None:
    try:
        matcher = Matcher.parse(f"case=~{pattern}")
    except MatcherError as exc:  # RE2 refuses some that re takes (a repeated repetition: `a{2}*`)
        assert "bad repetition operator" in str(exc)  # noqa: PT017
        return
    started = time.perf_counter()
    matcher.matches({"case": value * 100})  # long values: RE2 stays linear where re may not
    assert time.perf_counter() - started < BOUND_S
    short = value[:8]
    assert matcher.matches({"case": short}) == (re.fullmatch(pattern, short) is not None)


@FUZZ
@given(st.text(max_size=1200), st.dictionaries(st.sampled_from(["case", "cluster"]), st.text(max_size=50)))
def test_matcher_text(text: str, labels: dict[str, str]) -> None:
    """Any text: a matcher or MatcherError, and a matcher decides quickly on any labels."""
    try:
        matcher = Matcher.parse(text)
    except MatcherError:
        return
    started = time.perf_counter()
    assert matcher.matches(labels) in (True, False)
    assert time.perf_counter() - started < BOUND_S
