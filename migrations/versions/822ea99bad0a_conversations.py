"""conversations: one row per number that wrote to an account, so that the Inbox reads a page of them in order
instead of grouping every incoming message; filled from the incoming messages stored so far

Revision ID: 822ea99bad0a
Revises: ce7de7970e94
Create Date: 2026-11-24 03:40:00.000000

"""
from alembic import op
import sqlalchemy as sa
import smsplatform.models.types


# revision identifiers, used by Alembic.
revision = '822ea99bad0a'
down_revision = 'ce7de7970e94'
branch_labels = None
depends_on = None


_INCOMING = 5  # frozen copy: the status of an incoming SMS

messages = sa.table(
    'messages',
    sa.column('account_id', sa.Integer), sa.column('phone', sa.String), sa.column('status', sa.SmallInteger),
    sa.column('created_at', smsplatform.models.types.UTCDateTime),
)


def upgrade():
    conversations = op.create_table('conversations',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('last_at', smsplatform.models.types.UTCDateTime(), nullable=False),
    sa.Column('received', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_conversations_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', 'phone', name=op.f('pk_conversations'))
    )
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.create_index('ix_conversations_account_last', ['account_id', 'last_at', 'phone'], unique=False)
    op.execute(conversations.insert().from_select(
        ['account_id', 'phone', 'last_at', 'received'],
        sa.select(messages.c.account_id, messages.c.phone, sa.func.max(messages.c.created_at), sa.func.count())
        .where(messages.c.status == _INCOMING)
        .group_by(messages.c.account_id, messages.c.phone)))


def downgrade():
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index('ix_conversations_account_last')
    op.drop_table('conversations')
