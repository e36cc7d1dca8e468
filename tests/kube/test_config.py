"""Kubeconfig loading: good files resolve, bad ones name the file and the field."""

from __future__ import annotations

import base64
import os
import threading
import time
from pathlib import Path

import pytest
import yaml

from kubeprobe.kube.config import inline_kubeconfig, load_kubeconfig, parse_kubeconfig
from kubeprobe.kube.errors import KubeConfigError
from kubeprobe.sandbox import pki

CA = pki.make_ca("test-ca")
CLIENT = pki.issue(CA, "someone", client=True)


def _doc(**user: str) -> str:
    return f"""
apiVersion: v1
kind: Config
current-context: c1
clusters:
- name: k1
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: {base64.b64encode(CA.cert_pem).decode()}
contexts:
- name: c1
  context: {{cluster: k1, user: u1}}
- name: broken
  context: {{cluster: nope, user: u1}}
users:
- name: u1
  user: {{{", ".join(f"{k}: {v}" for k, v in user.items())}}}
"""


def test_resolves_inline_client_certificate() -> None:
    text = _doc(
        **{
            "client-certificate-data": base64.b64encode(CLIENT.cert_pem).decode(),
            "client-key-data": base64.b64encode(CLIENT.key_pem).decode(),
        }
    )
    conn = parse_kubeconfig(text)
    assert conn.server == "https://127.0.0.1:6443"
    assert conn.client_cert_pem == CLIENT.cert_pem
    conn.ssl_context()  # loads CA and key pair


def test_tls_context_is_built_once_per_material_and_trusts_only_the_given_ca() -> None:
    """The center builds a client for every run it dispatches or analyses, on its event loop:
    loading the system's CA bundle each time cost some 20 ms of CPU (the largest blocked-loop
    interval under bench/hostile.py), so a context is built once per distinct TLS material."""
    key = {
        "client-certificate-data": base64.b64encode(CLIENT.cert_pem).decode(),
        "client-key-data": base64.b64encode(CLIENT.key_pem).decode(),
    }
    first, again = parse_kubeconfig(_doc(**key)), parse_kubeconfig(_doc(**key))
    assert first.ssl_context() is again.ssl_context()
    assert first.ssl_context().cert_store_stats()["x509_ca"] == 1  # the cluster's CA, no others
    other = parse_kubeconfig(_doc(token="abc"))
    assert other.ssl_context() is not first.ssl_context()
    started = time.thread_time()
    for _ in range(100):
        parse_kubeconfig(_doc(token="abc")).ssl_context()
    assert time.thread_time() - started < 0.5  # was 100 x 20 ms


def test_a_stored_kubeconfig_is_parsed_once() -> None:
    """The largest accepted kubeconfig (some 250 KiB) took ~90 ms to parse on the center's event
    loop for every run it dispatched; a resolved one is remembered by its text's digest."""
    many = "".join(
        f"- name: k{i}\n  cluster: {{server: 'https://10.0.0.1:6443', extensions: ['{'x' * 400}']}}\n"
        for i in range(450)
    )
    text = _doc(token="abc").replace("clusters:\n", "clusters:\n" + many, 1)
    assert 200_000 < len(text) <= 256 * 1024
    first = parse_kubeconfig(text)
    started = time.perf_counter()
    again = parse_kubeconfig("" + text[:10] + text[10:])  # equal text, another string
    assert time.perf_counter() - started < 0.01
    assert again is first
    assert parse_kubeconfig(text, context="c1") is not first  # the context is part of the key
    with pytest.raises(KubeConfigError, match="no context named 'missing'"):
        parse_kubeconfig(text, context="missing")  # errors are never remembered
    with pytest.raises(KubeConfigError, match="no context named 'missing'"):
        parse_kubeconfig(text, context="missing")


def test_reads_files_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    CLIENT.write(tmp_path, "me")
    (tmp_path / "config").write_text(_doc(**{"client-certificate": "me.crt", "client-key": "me.key"}))
    conn = load_kubeconfig(tmp_path / "config")
    assert conn.client_key_pem == CLIENT.key_pem


@pytest.mark.parametrize(
    ("text", "context", "message"),
    [
        ("clusters: [", None, "not valid YAML"),
        ("- just a list", None, "not a kubeconfig"),
        (_doc(token="abc"), "missing", "no context named 'missing'"),
        (_doc(token="abc"), "broken", "no cluster named 'nope'"),
        (_doc(**{"client-certificate-data": "'not base64!'"}), None, "not valid base64"),
        (
            _doc(**{"client-certificate-data": base64.b64encode(b"x").decode()}),
            None,
            "given together",
        ),
        (
            _doc(**{"client-certificate": "/nonexistent/c.crt", "client-key": "k"}),
            None,
            "client-certificate names a file",
        ),
    ],
)
def test_bad_kubeconfig_names_the_problem(text: str, context: str | None, message: str) -> None:
    with pytest.raises(KubeConfigError, match=message):
        parse_kubeconfig(text, context=context)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError, match="cannot be read"):
        load_kubeconfig(tmp_path / "nope")
    (tmp_path / "config").write_text(_doc(**{"client-certificate": "nope.crt", "client-key": "k"}))
    with pytest.raises(KubeConfigError, match=r"client-certificate file .*nope.crt is not a regular file"):
        load_kubeconfig(tmp_path / "config")


def test_local_files_are_inlined_for_the_center(tmp_path: Path) -> None:
    """`kubeprobe cluster add` on the user's machine: what the center refuses becomes self-contained."""
    CLIENT.write(tmp_path, "me")
    (tmp_path / "tok").write_text("s3cret\n")
    (tmp_path / "config").write_text(_doc(**{"client-certificate": "me.crt", "client-key": "me.key"}))
    text, inlined = inline_kubeconfig(tmp_path / "config")
    assert inlined
    assert str(tmp_path) not in text
    conn = parse_kubeconfig(text)
    assert (conn.client_cert_pem, conn.client_key_pem) == (CLIENT.cert_pem, CLIENT.key_pem)
    (tmp_path / "config").write_text(_doc(tokenFile="tok"))
    text, inlined = inline_kubeconfig(tmp_path / "config", "c1")
    assert inlined
    assert parse_kubeconfig(text, context="c1").token == "s3cret"
    self_contained = _doc(token="abc")
    (tmp_path / "config").write_text(self_contained)
    assert inline_kubeconfig(tmp_path / "config") == (self_contained, False)


# --- issue 15: a kubeconfig given to the center is self-contained -----------------------------


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ("cluster", "certificate-authority"),
        ("user", "client-certificate"),
        ("user", "client-key"),
        ("user", "tokenFile"),
    ],
)
def test_stored_kubeconfig_never_reads_a_file(tmp_path: Path, section: str, field: str) -> None:
    """Finding 1: a file reference is refused, naming the field; the file is never read."""
    secret = tmp_path / "secret.key"
    secret.write_text("the-center's-fernet-key\n")
    doc = yaml.safe_load(_doc(token="abc"))
    entry = doc["clusters" if section == "cluster" else "users"][0][section]
    entry[field] = str(secret)
    with pytest.raises(KubeConfigError, match=f"{field} names a file") as info:
        parse_kubeconfig(yaml.safe_dump(doc))
    assert "fernet" not in str(info.value)


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ({"exec": {"command": "/bin/sh", "args": ["-c", "id"]}}, "exec credentials run a command"),
        ({"auth-provider": {"name": "gcp"}}, "auth-provider credentials run a command"),
        ({"username": "admin", "password": "x"}, "field 'password' is not supported"),
        ({"as": "system:admin", "token": "t"}, "field 'as' is not supported"),
    ],
)
def test_stored_kubeconfig_refuses_commands_and_unknown_auth(user: dict[str, object], message: str) -> None:
    doc = yaml.safe_load(_doc(token="abc"))
    doc["users"][0]["user"] = user
    with pytest.raises(KubeConfigError, match=message):
        parse_kubeconfig(yaml.safe_dump(doc))


def test_a_fifo_does_not_block(tmp_path: Path) -> None:
    """Finding 2: a file reference to a FIFO is refused at once, in the center and locally."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def parse() -> None:
        try:
            parse_kubeconfig(_doc(tokenFile=str(fifo)))
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=parse, daemon=True)
    worker.start()
    worker.join(timeout=5)
    try:
        assert outcome, "parsing a kubeconfig that names a FIFO blocked"
        assert isinstance(outcome[0], KubeConfigError)
        assert "tokenFile names a file" in str(outcome[0])
    finally:
        if worker.is_alive():  # release the blocked open() of the code before the fix
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    (tmp_path / "config").write_text(_doc(tokenFile="fifo"))
    with pytest.raises(KubeConfigError, match="not a regular file"):
        load_kubeconfig(tmp_path / "config")


#: 294 bytes that expand to 9**6 strings: the alias bomb of the issue, as the current context.
ALIAS_BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
current-context: [*e,*e,*e,*e,*e,*e,*e,*e,*e]
"""


def test_alias_bomb_is_refused_before_it_expands() -> None:
    """Finding 6: refused while composing, in bounded time and with a short message."""
    assert len(ALIAS_BOMB.encode()) < 300
    started = time.perf_counter()
    with pytest.raises(KubeConfigError, match="anchors and aliases are not accepted") as info:
        parse_kubeconfig(ALIAS_BOMB)
    assert time.perf_counter() - started < 0.2
    assert len(str(info.value)) < 300


@pytest.mark.parametrize(
    "text",
    [
        "x: " + "[" * 5000 + "]" * 5000,  # deeper than any kubeconfig: refused, not a RecursionError
        "clusters: []\n" + "#" * (300 * 1024),  # longer than the center accepts
        "current-context: &x c1\nx: *x\n",
        "x: [" + ",".join(["a"] * 60_000) + "]",  # the pure-Python loader took 13 s of event loop
    ],
)
def test_hostile_yaml_is_a_config_error(text: str) -> None:
    started = time.perf_counter()
    with pytest.raises(KubeConfigError):
        parse_kubeconfig(text)
    assert time.perf_counter() - started < 1.0
