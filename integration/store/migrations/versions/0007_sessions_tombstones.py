"""server-side web sessions (logout revokes at once) and tombstones of purged findings

Revision ID: 0007
Revises: 0006
"""

from alembic import op
import sqlalchemy as sa
import integration.store.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UTC = integration.store.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("last_seen_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_sessions_token_hash")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_web_sessions_email", ["email"], unique=False)

    op.create_table(
        "finding_tombstones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("closed_at", UTC(timezone=True), nullable=True),
        sa.Column("purged_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finding_tombstones")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_finding_tombstones_fingerprint")),
    )


def downgrade() -> None:
    op.drop_table("finding_tombstones")
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_web_sessions_email")
    op.drop_table("web_sessions")
