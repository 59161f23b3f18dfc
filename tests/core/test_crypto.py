"""Encryption at rest with key rotation, and keyed hashing for look-ups."""

from __future__ import annotations

import pytest

from integration.crypto import Crypto, write_new_key_file
from integration.errors import ConfigError


def test_rotation_keeps_old_data_readable_and_rotate_reencrypts(tmp_path):
    old, new = Crypto.new_key(), Crypto.new_key()
    token = Crypto([old]).encrypt("jane.smith84@gmail.com")
    rotated = Crypto([new, old])
    assert rotated.decrypt(token) == "jane.smith84@gmail.com"
    new_token = rotated.rotate(token)
    assert Crypto([new]).decrypt(new_token) == "jane.smith84@gmail.com"
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        Crypto([new]).decrypt(token)


def test_address_hash_is_keyed_and_normalised():
    a, b = Crypto([Crypto.new_key()]), Crypto([Crypto.new_key()])
    assert a.address_hash(" Jane@Gmail.com") == a.address_hash("jane@gmail.com")
    assert a.address_hash("jane@gmail.com") != b.address_hash("jane@gmail.com")


def test_key_file_is_created_once_and_never_overwritten(tmp_path):
    path = tmp_path / "secrets" / "k.key"
    assert write_new_key_file(path) is True
    first = path.read_text()
    assert write_new_key_file(path) is False
    assert path.read_text() == first
    assert Crypto.from_file(path).decrypt(Crypto.from_file(path).encrypt("x")) == "x"
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_bad_key_files_are_explained(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        Crypto.from_file(tmp_path / "missing.key")
    bad = tmp_path / "bad.key"
    bad.write_text("not-a-key\n")
    with pytest.raises(ConfigError, match="not a Fernet key file"):
        Crypto.from_file(bad)
