"""Key rotation: re-encrypt every Encrypted column with the newest key and recompute keyed hashes.

Convention (kept by every model): an Encrypted column `x` that is looked up by value has a
sibling column `x_hash` holding `Crypto.address_hash(x)`.

Tombstones of purged findings hold only a fingerprint (keyed hashes inside, no address to
recompute it from), so the HMAC keys of the older keys are kept in ``retired_hash_keys``
(encrypted with the newest key) and the audit matches tombstones under them too.
"""

from __future__ import annotations

import base64
import hashlib

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from integration.crypto import Crypto
from integration.store import Store
from integration.store.base import Encrypted
from integration.store.models import metadata


def encrypted_columns() -> list[tuple[str, str, str | None]]:
    """(table, column, hash column or None) for every Encrypted column in the schema."""
    out = []
    for table in metadata.sorted_tables:
        for col in table.columns:
            if isinstance(col.type, Encrypted):
                hash_col = f"{col.name}_hash" if f"{col.name}_hash" in table.c else None
                out.append((table.name, col.name, hash_col))
    return out


def rotate_all(store: Store, crypto: Crypto) -> dict[str, int]:
    """Re-encrypt and re-hash in one transaction; returns rows touched per table."""
    counts: dict[str, int] = {}
    with store.session() as s:
        for table_name, col_name, hash_name in encrypted_columns():
            table = metadata.tables[table_name]
            pk = list(table.primary_key.columns)
            raw_col = table.c[col_name]
            # Read the stored ciphertext without the type's automatic decryption.
            rows = s.execute(select(*pk, raw_col.cast(raw_col.type.impl))).all()
            for row in rows:
                token = row[-1]
                if token is None:
                    continue
                values = {col_name: _Raw(crypto.rotate(token))}
                if hash_name:
                    values[hash_name] = crypto.address_hash(crypto.decrypt(token))
                cond = [c == row[i] for i, c in enumerate(pk)]
                s.execute(update(table).where(*cond).values(**{k: _unwrap(v) for k, v in values.items()}),
                          execution_options={"synchronize_session": False})
                counts[table_name] = counts.get(table_name, 0) + 1
        # Finding fingerprints embed keyed hashes: recompute them in the same transaction, or the
        # next audit would open a duplicate of every finding that has a counterpart.
        from integration.findings import refingerprint

        counts["finding_fingerprints"] = refingerprint(s, crypto.address_hash)
        counts["retired_hash_keys"] = keep_hash_keys(s, crypto)
    return counts


def hash_key_id(secret: bytes) -> str:
    """A non-secret name for an HMAC key (a digest of it), so each is kept once."""
    return hashlib.sha256(b"safechannels-hash-key-id:" + secret).hexdigest()[:16]


def keep_hash_keys(session: Session, crypto: Crypto) -> int:
    """Keep the HMAC keys of the older keys (tombstones were made under one of them); returns how many
    were added. Stored encrypted with the newest key, so removing the old key from the file is safe."""
    from integration.store.models_privacy import RetiredHashKey

    known = set(session.scalars(select(RetiredHashKey.key_id)))
    known.add(hash_key_id(crypto.hash_secret))
    added = 0
    for secret in crypto.older_hash_secrets:
        key_id = hash_key_id(secret)
        if key_id not in known:
            session.add(RetiredHashKey(key_id=key_id, secret=base64.b64encode(secret).decode("ascii")))
            known.add(key_id)
            added += 1
    session.flush()
    return added


def retired_hashes(session: Session) -> list:
    """``address_hash`` functions of the retired HMAC keys (newest first), for matching tombstones."""
    from integration.crypto import keyed_hash
    from integration.store.models_privacy import RetiredHashKey

    secrets = [base64.b64decode(s) for s in session.scalars(select(RetiredHashKey.secret)
                                                           .order_by(RetiredHashKey.id.desc()))]
    return [lambda address, k=k: keyed_hash(k, address) for k in secrets]


class _Raw(str):
    """Marks an already-encrypted value."""


def _unwrap(v):
    if isinstance(v, _Raw):
        from sqlalchemy import literal

        return literal(str(v), type_=Encrypted.impl)
    return v
