"""Encryption at rest (Fernet, several keys for rotation) and keyed hashing for look-ups.

The key file holds Fernet keys, newest first, one per line. New data is encrypted
with the newest; any listed key decrypts. Personal addresses are looked up by an
HMAC-SHA256 keyed with a key derived from the newest Fernet key, so after a rotation
`rotate-key` re-encrypts and re-hashes stored rows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from integration.errors import ConfigError


class Crypto:
    def __init__(self, keys: list[bytes]):
        if not keys:
            raise ConfigError("the encryption key file holds no keys")
        self._keys = list(keys)
        self._fernets = [Fernet(k) for k in keys]
        self._multi = MultiFernet(self._fernets)
        self._hmac_key = hash_secret(keys[0])

    @classmethod
    def from_file(cls, path: Path) -> Crypto:
        try:
            lines = [ln.strip() for ln in path.read_text(encoding="ascii").splitlines()]
        except FileNotFoundError:
            raise ConfigError(
                f"{path}: encryption key file not found ([privacy] encryption_key_file). "
                "Run 'python -m integration init' to create one, and back it up."
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: encryption key file cannot be read ({exc})") from None
        keys = [ln.encode() for ln in lines if ln and not ln.startswith("#")]
        try:
            return cls(keys)
        except (ValueError, TypeError):
            raise ConfigError(
                f"{path}: not a Fernet key file (expected 32-byte url-safe base64 keys, one per line, newest first)"
            ) from None

    @staticmethod
    def new_key() -> bytes:
        return Fernet.generate_key()

    def encrypt(self, text: str) -> str:
        return self._multi.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._multi.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise ConfigError("stored data cannot be decrypted with any key in the key file "
                              "(was a key removed before 'rotate-key' ran?)") from None

    @property
    def key_count(self) -> int:
        return len(self._keys)

    def with_new_key(self, key: bytes) -> Crypto:
        """This key set with `key` put first (the newest)."""
        return Crypto([key, *self._keys])

    def rotate(self, token: str) -> str:
        return self._multi.rotate(token.encode("ascii")).decode("ascii")

    def address_hash(self, address: str) -> str:
        """Keyed hash of a normalised address: equality look-ups without storing it in clear."""
        return keyed_hash(self._hmac_key, address)

    @property
    def hash_secret(self) -> bytes:
        """The HMAC key of :meth:`address_hash` (derived from the newest key)."""
        return self._hmac_key

    @property
    def older_hash_secrets(self) -> list[bytes]:
        """The HMAC keys the older keys in the file gave, newest first (what hashes used before a rotation)."""
        return [hash_secret(k) for k in self._keys[1:]]


def hash_secret(key: bytes) -> bytes:
    """The HMAC key derived from one Fernet key."""
    return hashlib.sha256(b"safechannels-hmac-v1:" + key).digest()


def keyed_hash(secret: bytes, address: str) -> str:
    """HMAC-SHA256 of a normalised address under ``secret`` (see :func:`hash_secret`)."""
    return hmac.new(secret, address.strip().lower().encode("utf-8"), hashlib.sha256).hexdigest()


def write_new_key_file(path: Path) -> bool:
    """Create a key file with one fresh key; never overwrite. Returns True if written."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write("# SafeChannels encryption keys, newest first. Back this file up: without it stored\n")
        fh.write("# personal addresses and secrets cannot be read.\n")
        fh.write(Crypto.new_key().decode("ascii") + "\n")
    return True


def random_token(nbytes: int = 32) -> str:
    return base64.urlsafe_b64encode(os.urandom(nbytes)).decode("ascii").rstrip("=")
