"""audit tables: registers, findings, occurrences, triage log

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa
import integration.store.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('channel_exceptions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('staff', sa.String(length=320), nullable=False),
    sa.Column('counterpart', integration.store.base.Encrypted(), nullable=False),
    sa.Column('counterpart_hash', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('approved_by', sa.String(length=320), nullable=False),
    sa.Column('expires', sa.Date(), nullable=False),
    sa.Column('imported_at', integration.store.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_exceptions')),
    sa.UniqueConstraint('staff', 'counterpart_hash', name=op.f('uq_channel_exceptions_staff'))
    )
    with op.batch_alter_table('channel_exceptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_channel_exceptions_counterpart_hash'), ['counterpart_hash'], unique=False)

    op.create_table('findings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('staff', sa.String(length=320), nullable=True),
    sa.Column('pupil', sa.String(length=320), nullable=True),
    sa.Column('guardian', integration.store.base.Encrypted(), nullable=True),
    sa.Column('counterpart', integration.store.base.Encrypted(), nullable=True),
    sa.Column('counterpart_hash', sa.String(length=64), nullable=False),
    sa.Column('confidence', sa.String(length=12), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('policy', sa.JSON(), nullable=False),
    sa.Column('exception_id', sa.String(length=32), nullable=True),
    sa.Column('object_key', sa.String(length=255), nullable=False),
    sa.Column('key_fields', sa.String(length=64), nullable=False),
    sa.Column('first_seen', integration.store.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen', integration.store.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('occurrences', sa.Integer(), nullable=False),
    sa.Column('created_at', integration.store.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', integration.store.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', integration.store.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_findings')),
    sa.UniqueConstraint('fingerprint', name=op.f('uq_findings_fingerprint'))
    )
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_findings_pupil'), ['pupil'], unique=False)
        batch_op.create_index(batch_op.f('ix_findings_rule'), ['rule'], unique=False)
        batch_op.create_index(batch_op.f('ix_findings_staff'), ['staff'], unique=False)
        batch_op.create_index(batch_op.f('ix_findings_status'), ['status'], unique=False)
        batch_op.create_index('ix_findings_status_rule', ['status', 'rule'], unique=False)

    op.create_table('personal_addresses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('address_hash', sa.String(length=64), nullable=False),
    sa.Column('address', integration.store.base.Encrypted(), nullable=False),
    sa.Column('owner_email', sa.String(length=320), nullable=False),
    sa.Column('imported_at', integration.store.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_personal_addresses')),
    sa.UniqueConstraint('address_hash', name=op.f('uq_personal_addresses_address_hash'))
    )
    with op.batch_alter_table('personal_addresses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_personal_addresses_owner_email'), ['owner_email'], unique=False)

    op.create_table('register_imports',
    sa.Column('register', sa.String(length=32), nullable=False),
    sa.Column('path', sa.String(length=1024), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('problems', sa.JSON(), nullable=False),
    sa.Column('imported_at', integration.store.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('register', name=op.f('pk_register_imports'))
    )
    op.create_table('finding_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('finding_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=320), nullable=False),
    sa.Column('at', integration.store.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=False),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['finding_id'], ['findings.id'], name=op.f('fk_finding_events_finding_id_findings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finding_events'))
    )
    with op.batch_alter_table('finding_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finding_events_finding_id'), ['finding_id'], unique=False)

    op.create_table('finding_occurrences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('finding_id', sa.Integer(), nullable=False),
    sa.Column('event_key', sa.String(length=255), nullable=False),
    sa.Column('seen_at', integration.store.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['finding_id'], ['findings.id'], name=op.f('fk_finding_occurrences_finding_id_findings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finding_occurrences')),
    sa.UniqueConstraint('finding_id', 'event_key', name=op.f('uq_finding_occurrences_finding_id'))
    )
    with op.batch_alter_table('finding_occurrences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finding_occurrences_seen_at'), ['seen_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('finding_occurrences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finding_occurrences_seen_at'))

    op.drop_table('finding_occurrences')
    with op.batch_alter_table('finding_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finding_events_finding_id'))

    op.drop_table('finding_events')
    op.drop_table('register_imports')
    with op.batch_alter_table('personal_addresses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_personal_addresses_owner_email'))

    op.drop_table('personal_addresses')
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.drop_index('ix_findings_status_rule')
        batch_op.drop_index(batch_op.f('ix_findings_status'))
        batch_op.drop_index(batch_op.f('ix_findings_staff'))
        batch_op.drop_index(batch_op.f('ix_findings_rule'))
        batch_op.drop_index(batch_op.f('ix_findings_pupil'))

    op.drop_table('findings')
    with op.batch_alter_table('channel_exceptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_channel_exceptions_counterpart_hash'))

    op.drop_table('channel_exceptions')
