"""chat tables: DM rooms, their known members, and DM messages held until the other member is known

Revision ID: 0008
Revises: 0007
"""

from alembic import op
import sqlalchemy as sa
import integration.store.base

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UTC = integration.store.base.UTCDateTime
ENC = integration.store.base.Encrypted


def upgrade() -> None:
    op.create_table(
        "chat_rooms",
        sa.Column("room", sa.String(length=255), nullable=False),
        sa.Column("listed_at", UTC(timezone=True), nullable=True),
        sa.Column("first_seen", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("room", name=op.f("pk_chat_rooms")),
    )
    op.create_table(
        "chat_room_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room", sa.String(length=255), nullable=False),
        sa.Column("member", ENC(), nullable=False),
        sa.Column("member_hash", sa.String(length=64), nullable=False),
        sa.Column("known_from", sa.String(length=16), nullable=False),
        sa.Column("seen_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_room_members")),
        sa.UniqueConstraint("room", "member_hash", name=op.f("uq_chat_room_members_room")),
    )
    with op.batch_alter_table("chat_room_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_room_members_room"), ["room"], unique=False)
    op.create_table(
        "chat_held_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("room", sa.String(length=255), nullable=False),
        sa.Column("time", UTC(timezone=True), nullable=False),
        sa.Column("actor", ENC(), nullable=False),
        sa.Column("conversation_type", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("held_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_held_messages")),
        sa.UniqueConstraint("event_id", name=op.f("uq_chat_held_messages_event_id")),
    )
    with op.batch_alter_table("chat_held_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_held_messages_room"), ["room"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("chat_held_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_held_messages_room"))
    op.drop_table("chat_held_messages")
    with op.batch_alter_table("chat_room_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_room_members_room"))
    op.drop_table("chat_room_members")
    op.drop_table("chat_rooms")
