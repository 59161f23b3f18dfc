"""worker heartbeats: /readyz fails while the worker is not scheduling jobs

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

import integration.store.base

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UTC = integration.store.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "worker_heartbeats",
        sa.Column("worker", sa.String(length=128), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", UTC(timezone=True), nullable=False),
        sa.Column("beat_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("worker", name=op.f("pk_worker_heartbeats")),
    )


def downgrade() -> None:
    op.drop_table("worker_heartbeats")
