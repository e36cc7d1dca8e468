"""Cluster credentials encrypted at rest (Fernet), and the key that does it."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from kubeprobe.center.errors import CenterError
from kubeprobe.center.settings import CenterSettings


class SecretBox:
    """Encrypts and decrypts credentials with one Fernet key."""

    def __init__(self, key: str | bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError) as exc:
            raise CenterError(
                "KUBEPROBE_SECRET_KEY is not a Fernet key (32 url-safe base64 bytes); "
                "make one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'"
            ) from exc

    def encrypt(self, plain: str) -> bytes:
        return self._fernet.encrypt(plain.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken as exc:
            raise CenterError("stored credentials do not decrypt: KUBEPROBE_SECRET_KEY changed?") from exc


def private_dir(path: Path) -> Path:
    """The data dir, created or made again readable by this user only (0700): it holds the SQLite
    file (run data, the audit log, token hashes), secret.key and admin-token."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def load_secret_box(settings: CenterSettings) -> SecretBox:
    """The key from settings, else from data_dir/secret.key (created once, mode 0600); the data
    dir is made private (:func:`private_dir`) either way."""
    private_dir(Path(settings.data_dir))
    if settings.secret_key:
        return SecretBox(settings.secret_key)
    path = Path(settings.data_dir) / "secret.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(Fernet.generate_key())
    return SecretBox(path.read_bytes().strip())
