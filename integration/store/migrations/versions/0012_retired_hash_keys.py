"""retired HMAC keys: tombstones of purged findings keep matching after `rotate-key`

Revision ID: 0012
Revises: 0011
"""

from alembic import op
import sqlalchemy as sa
import integration.store.base

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UTC = integration.store.base.UTCDateTime
ENC = integration.store.base.Encrypted


def upgrade() -> None:
    op.create_table(
        "retired_hash_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("secret", ENC(), nullable=False),
        sa.Column("retired_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retired_hash_keys")),
        sa.UniqueConstraint("key_id", name=op.f("uq_retired_hash_keys_key_id")),
    )


def downgrade() -> None:
    op.drop_table("retired_hash_keys")
