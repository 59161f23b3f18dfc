"""schools: every person, course, finding, round, alert and register row belongs to a school

Revision ID: 0014
Revises: 0013

Existing rows get no school (NULL, or "" for ack_rounds, whose (school, policy_version) is unique);
integration/tenancy_store.adopt places them in a single-school deployment's one school on the
next run, so an upgrade keeps every history.
"""

from alembic import op
import sqlalchemy as sa

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_PLACED = ("people", "courses", "outbox")  # indexed: scoping and per-school jobs filter on them
_NOTED = ("personal_addresses", "channel_exceptions")


def upgrade() -> None:
    for table in _PLACED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("school", sa.String(length=64), nullable=True))
            batch_op.create_index(batch_op.f(f"ix_{table}_school"), ["school"], unique=False)
    for table in _NOTED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("school", sa.String(length=64), nullable=True))
    op.create_table(
        "finding_schools",
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("school", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["finding_id"], ["findings.id"], name=op.f("fk_finding_schools_finding_id_findings"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("finding_id", "school", name=op.f("pk_finding_schools")),
    )
    with op.batch_alter_table("finding_schools", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_finding_schools_school"), ["school"], unique=False)
    with op.batch_alter_table("ack_rounds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("school", sa.String(length=64), nullable=False, server_default=""))
        batch_op.drop_constraint("uq_ack_rounds_policy_version", type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_ack_rounds_school"), ["school", "policy_version"])
        batch_op.create_index(batch_op.f("ix_ack_rounds_school"), ["school"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ack_rounds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ack_rounds_school"))
        batch_op.drop_constraint(batch_op.f("uq_ack_rounds_school"), type_="unique")
        batch_op.create_unique_constraint("uq_ack_rounds_policy_version", ["policy_version"])
        batch_op.drop_column("school")
    with op.batch_alter_table("finding_schools", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_finding_schools_school"))
    op.drop_table("finding_schools")
    for table in _NOTED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("school")
    for table in _PLACED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_school"))
            batch_op.drop_column("school")
