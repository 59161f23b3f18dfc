"""Rotating the key re-encrypts personal addresses and keeps keyed look-ups working."""

from __future__ import annotations

from sqlalchemy import select, text

from integration.crypto import Crypto
from integration.rekey import encrypted_columns, rotate_all
from integration.store import Store
from integration.store.base import set_crypto
from integration.store.models_roster import Guardian


def test_rotation_reencrypts_and_rehashes(database_url):
    old = Crypto([Crypto.new_key()])
    store = Store(database_url, old)
    store.migrate()
    with store.session() as s:
        s.add(Guardian(email_hash=old.address_hash("mum@gmail.com"), email="mum@gmail.com", name="Mum"))

    new_key = Crypto.new_key()
    rotated = old.with_new_key(new_key)
    set_crypto(rotated)
    assert rotate_all(store, rotated)["guardians"] == 2  # email and name

    set_crypto(Crypto([new_key]))  # the old key can now be dropped
    with store.session() as s:
        g = s.scalars(select(Guardian)).one()
        assert g.email == "mum@gmail.com"
        assert g.email_hash == Crypto([new_key]).address_hash("mum@gmail.com")
        assert "mum" not in s.execute(text("SELECT email FROM guardians")).scalar_one()
    assert ("guardians", "email", "email_hash") in encrypted_columns()
    store.dispose()
