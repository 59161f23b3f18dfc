"""mail messages assembled from their sightings: receipts held for the sender's event

Revision ID: 0011
Revises: 0010
"""

from alembic import op
import sqlalchemy as sa
import integration.store.base

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UTC = integration.store.base.UTCDateTime
ENC = integration.store.base.Encrypted


def upgrade() -> None:
    op.create_table(
        "mail_messages",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("time", UTC(timezone=True), nullable=False),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.Column("sightings", ENC(), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_mail_messages")),
    )
    with op.batch_alter_table("mail_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mail_messages_time"), ["time"], unique=False)
        batch_op.create_index(batch_op.f("ix_mail_messages_held"), ["held"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mail_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_messages_held"))
        batch_op.drop_index(batch_op.f("ix_mail_messages_time"))
    op.drop_table("mail_messages")
