"""index ack_notices.outbox_key: the delivery worker looks a notice up by it for every email

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ack_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ack_notices_outbox_key"), ["outbox_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ack_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ack_notices_outbox_key"))
