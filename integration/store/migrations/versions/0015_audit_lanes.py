"""audit lanes: in queue mode an audit's lanes are rows that queue workers claim, one holder each

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

import integration.store.base

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

UTC = integration.store.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "audit_lanes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("lane", sa.Integer(), nullable=False),
        sa.Column("streams", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("lease_until", UTC(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("ready_at", UTC(timezone=True), nullable=False),
        sa.Column("finished_at", UTC(timezone=True), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_lanes")),
        sa.UniqueConstraint("run_id", "lane", name=op.f("uq_audit_lanes_run_id")),
    )
    with op.batch_alter_table("audit_lanes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_lanes_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_lanes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_lanes_run_id"))
    op.drop_table("audit_lanes")
