"""Declarative base and the column types every model shares."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from integration.crypto import Crypto

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


_crypto: Crypto | None = None


def set_crypto(crypto: Crypto | None) -> None:
    """Installed by the Store; Encrypted columns use it to encrypt and decrypt."""
    global _crypto
    _crypto = crypto


def current_crypto() -> Crypto:
    if _crypto is None:
        raise RuntimeError("no encryption key loaded: open the store with a Crypto before touching encrypted columns")
    return _crypto


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Encrypted(TypeDecorator):
    """Text encrypted at rest with the configured Fernet keys (personal addresses, secrets)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else current_crypto().encrypt(value)

    def process_result_value(self, value, dialect):
        return None if value is None else current_crypto().decrypt(value)


def Email() -> String:  # noqa: N802 - reads like a column type
    return String(320)
