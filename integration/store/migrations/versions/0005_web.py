"""web tables: push channels / watches and Pub/Sub messages seen

Revision ID: 0005
Revises: 0004
"""

from alembic import op
import sqlalchemy as sa
import integration.store.base

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UTC = integration.store.base.UTCDateTime
ENC = integration.store.base.Encrypted


def upgrade() -> None:
    op.create_table(
        "watch_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("partition", sa.String(length=320), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel_id", sa.String(length=128), nullable=False),
        sa.Column("resource_id", sa.String(length=255), nullable=False),
        sa.Column("token", ENC(), nullable=True),
        sa.Column("address", sa.String(length=1024), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires_at", UTC(timezone=True), nullable=True),
        sa.Column("last_message_number", sa.BigInteger(), nullable=False),
        sa.Column("last_message_at", UTC(timezone=True), nullable=True),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("renewed_at", UTC(timezone=True), nullable=True),
        sa.Column("stopped_at", UTC(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_channels")),
        sa.UniqueConstraint("channel_id", name=op.f("uq_watch_channels_channel_id")),
    )
    with op.batch_alter_table("watch_channels", schema=None) as batch_op:
        batch_op.create_index("ix_watch_channels_source_status", ["source", "status"], unique=False)

    op.create_table(
        "pubsub_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("subscription", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("received_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pubsub_messages")),
        sa.UniqueConstraint("message_id", name=op.f("uq_pubsub_messages_message_id")),
    )
    with op.batch_alter_table("pubsub_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pubsub_messages_received_at"), ["received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pubsub_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pubsub_messages_received_at"))
    op.drop_table("pubsub_messages")
    with op.batch_alter_table("watch_channels", schema=None) as batch_op:
        batch_op.drop_index("ix_watch_channels_source_status")
    op.drop_table("watch_channels")
