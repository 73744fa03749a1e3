"""known_login_addresses: the addresses an account signed in from, which the per-email login limit spares

Revision ID: eac3ae927b3e
Revises: 822ea99bad0a
Create Date: 2026-11-24 05:30:00.000000

"""
from alembic import op
import sqlalchemy as sa
import smsplatform.models.types


# revision identifiers, used by Alembic.
revision = 'eac3ae927b3e'
down_revision = '822ea99bad0a'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('known_login_addresses',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('last_success_at', smsplatform.models.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_known_login_addresses_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', 'address', name=op.f('pk_known_login_addresses'))
    )
    with op.batch_alter_table('known_login_addresses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_known_login_addresses_last_success_at'), ['last_success_at'], unique=False)


def downgrade():
    with op.batch_alter_table('known_login_addresses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_known_login_addresses_last_success_at'))
    op.drop_table('known_login_addresses')
