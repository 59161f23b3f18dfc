"""alerts tables: outbox, digests, alerted findings, job locks, job requests

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa
import integration.store.base

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UTC = integration.store.base.UTCDateTime
ENC = integration.store.base.Encrypted


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=True),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("cc", sa.JSON(), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("body_text", ENC(), nullable=False),
        sa.Column("body_html", ENC(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("due_at", UTC(timezone=True), nullable=False),
        sa.Column("next_attempt_at", UTC(timezone=True), nullable=False),
        sa.Column("lease_until", UTC(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("sent_at", UTC(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("key", name=op.f("uq_outbox_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_finding_id"), ["finding_id"], unique=False)
        batch_op.create_index("ix_outbox_status_next", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_key", sa.String(length=64), nullable=False),
        sa.Column("window_start", UTC(timezone=True), nullable=True),
        sa.Column("window_end", UTC(timezone=True), nullable=False),
        sa.Column("new_count", sa.Integer(), nullable=False),
        sa.Column("updated_count", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digests")),
        sa.UniqueConstraint("run_key", name=op.f("uq_digests_run_key")),
    )

    op.create_table(
        "alerted_findings",
        sa.Column("finding_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("route", sa.String(length=16), nullable=False),
        sa.Column("queued_at", UTC(timezone=True), nullable=False),
        sa.Column("reported_occurrences", sa.Integer(), nullable=False),
        sa.Column("digest_id", sa.Integer(), nullable=True),
        sa.Column("escalated_at", UTC(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["digest_id"], ["digests.id"], name=op.f("fk_alerted_findings_digest_id_digests"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("finding_id", name=op.f("pk_alerted_findings")),
    )
    with op.batch_alter_table("alerted_findings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerted_findings_digest_id"), ["digest_id"], unique=False)

    op.create_table(
        "job_locks",
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("lease_until", UTC(timezone=True), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("last_started_at", UTC(timezone=True), nullable=True),
        sa.Column("last_finished_at", UTC(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(length=16), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_job_locks")),
    )

    op.create_table(
        "job_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("debounce_key", sa.String(length=255), nullable=False),
        sa.Column("requested_at", UTC(timezone=True), nullable=False),
        sa.Column("picked_at", UTC(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_requests")),
    )
    with op.batch_alter_table("job_requests", schema=None) as batch_op:
        batch_op.create_index("ix_job_requests_kind_picked", ["kind", "picked_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_job_requests_kind_picked")
    op.drop_table("job_requests")
    op.drop_table("job_locks")
    with op.batch_alter_table("alerted_findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerted_findings_digest_id"))
    op.drop_table("alerted_findings")
    op.drop_table("digests")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_next")
        batch_op.drop_index(batch_op.f("ix_outbox_finding_id"))
    op.drop_table("outbox")
