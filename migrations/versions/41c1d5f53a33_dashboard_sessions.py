"""dashboard_sessions: a row per signed-in dashboard session, deleted at logout, so a copied cookie ends too

Revision ID: 41c1d5f53a33
Revises: eac3ae927b3e
Create Date: 2026-11-24 05:40:00.000000

"""
from alembic import op
import sqlalchemy as sa
import smsplatform.models.types


# revision identifiers, used by Alembic.
revision = '41c1d5f53a33'
down_revision = 'eac3ae927b3e'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('dashboard_sessions',
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('created_at', smsplatform.models.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_dashboard_sessions_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id_hash', name=op.f('pk_dashboard_sessions'))
    )
    with op.batch_alter_table('dashboard_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dashboard_sessions_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dashboard_sessions_created_at'), ['created_at'], unique=False)


def downgrade():
    # The table's indexes go with it: MariaDB refuses to drop the account_id one while the foreign key needs it.
    op.drop_table('dashboard_sessions')
