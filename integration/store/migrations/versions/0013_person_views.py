"""person_views: views of a person's page, shown in the access log

Revision ID: 0013
Revises: 0012
"""

from alembic import op
import sqlalchemy as sa
import integration.store.base

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UTC = integration.store.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "person_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person", sa.String(length=320), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_views")),
    )
    with op.batch_alter_table("person_views", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_views_person"), ["person"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_views_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_views_at"), ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("person_views", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_views_at"))
        batch_op.drop_index(batch_op.f("ix_person_views_actor"))
        batch_op.drop_index(batch_op.f("ix_person_views_person"))
    op.drop_table("person_views")
