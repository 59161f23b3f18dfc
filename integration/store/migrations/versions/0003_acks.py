"""acks tables: acknowledgement rounds, form responses, notices

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa
import integration.store.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UTC = integration.store.base.UTCDateTime
ENC = integration.store.base.Encrypted


def upgrade() -> None:
    op.create_table(
        "ack_rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("policy_version", sa.String(length=64), nullable=False),
        sa.Column("form_id", sa.String(length=128), nullable=False),
        sa.Column("form_source", sa.String(length=16), nullable=False),
        sa.Column("setup_state", sa.String(length=16), nullable=False),
        sa.Column("responder_uri", sa.String(length=1024), nullable=False),
        sa.Column("form_title", sa.String(length=500), nullable=False),
        sa.Column("collects_email", sa.Boolean(), nullable=False),
        sa.Column("email_collection_type", sa.String(length=40), nullable=False),
        sa.Column("confirmation_question_id", sa.String(length=64), nullable=False),
        sa.Column("counts_from", UTC(timezone=True), nullable=True),
        sa.Column("opened_at", UTC(timezone=True), nullable=False),
        sa.Column("closed_at", UTC(timezone=True), nullable=True),
        sa.Column("checked_at", UTC(timezone=True), nullable=True),
        sa.Column("final_summary", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ack_rounds")),
        sa.UniqueConstraint("policy_version", name=op.f("uq_ack_rounds_policy_version")),
    )
    op.create_table(
        "ack_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.String(length=128), nullable=False),
        sa.Column("response_id", sa.String(length=128), nullable=False),
        sa.Column("respondent_email_hash", sa.String(length=64), nullable=False),
        sa.Column("respondent_email", ENC(), nullable=False),
        sa.Column("submitted_at", UTC(timezone=True), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("resubmissions", sa.Integer(), nullable=False),
        sa.Column("read_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["ack_rounds.id"], name=op.f("fk_ack_responses_round_id_ack_rounds"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ack_responses")),
        sa.UniqueConstraint("round_id", "form_id", "response_id", name=op.f("uq_ack_responses_round_id")),
    )
    with op.batch_alter_table("ack_responses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ack_responses_round_id"), ["round_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ack_responses_respondent_email_hash"), ["respondent_email_hash"],
                              unique=False)

    op.create_table(
        "ack_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("outbox_key", sa.String(length=255), nullable=False),
        sa.Column("queued_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["ack_rounds.id"], name=op.f("fk_ack_notices_round_id_ack_rounds"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ack_notices")),
        sa.UniqueConstraint("round_id", "recipient", "kind", "day", name=op.f("uq_ack_notices_round_id")),
    )
    with op.batch_alter_table("ack_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ack_notices_round_id"), ["round_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ack_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ack_notices_round_id"))
    op.drop_table("ack_notices")
    with op.batch_alter_table("ack_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ack_responses_respondent_email_hash"))
        batch_op.drop_index(batch_op.f("ix_ack_responses_round_id"))
    op.drop_table("ack_responses")
    op.drop_table("ack_rounds")
