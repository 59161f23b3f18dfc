"""finding_exceptions: exceptions approved on a finding's page (read with the exceptions register)

Revision ID: 0009
Revises: 0008
"""

from alembic import op
import sqlalchemy as sa
import integration.store.base

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UTC = integration.store.base.UTCDateTime
ENC = integration.store.base.Encrypted


def upgrade() -> None:
    op.create_table(
        "finding_exceptions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("staff", sa.String(length=320), nullable=False),
        sa.Column("counterpart", ENC(), nullable=False),
        sa.Column("counterpart_hash", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("approved_by", sa.String(length=320), nullable=False),
        sa.Column("expires", sa.Date(), nullable=False),
        sa.Column("added_by", sa.String(length=320), nullable=False),
        sa.Column("added_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finding_exceptions")),
    )
    with op.batch_alter_table("finding_exceptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_finding_exceptions_finding_id"), ["finding_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_finding_exceptions_counterpart_hash"), ["counterpart_hash"],
                              unique=False)


def downgrade() -> None:
    op.drop_table("finding_exceptions")
