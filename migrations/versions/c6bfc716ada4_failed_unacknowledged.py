"""failed_unacknowledged: a column marks the recovery job's timeout failures, no longer their reason text

Revision ID: c6bfc716ada4
Revises: 9160d298e4f3
Create Date: 2026-11-23 03:15:54.912867

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c6bfc716ada4'
down_revision = '9160d298e4f3'
branch_labels = None
depends_on = None


# Frozen copies as of this revision: how the recovery job's reason began, and status 9 (generic failure).
_PREFIX = "not acknowledged by the phone within "
_FAILED_GENERIC = 9
_BATCH = 500

messages = sa.table(
    'messages',
    sa.column('id', sa.BigInteger), sa.column('status', sa.SmallInteger),
    sa.column('failure_reason', sa.String), sa.column('failed_unacknowledged', sa.Boolean),
)


def upgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_unacknowledged', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
    # Mark the failures the app took for the job's until now: status 9 with a reason starting with the
    # prefix. LIKE narrows them down (ignoring case on both databases); startswith decides, as the app did.
    bind = op.get_bind()
    ids = [message_id for message_id, reason in bind.execute(
        sa.select(messages.c.id, messages.c.failure_reason)
        .where(messages.c.status == _FAILED_GENERIC, messages.c.failure_reason.like(_PREFIX + '%')))
        if reason.startswith(_PREFIX)]
    for start in range(0, len(ids), _BATCH):
        bind.execute(messages.update().where(messages.c.id.in_(ids[start:start + _BATCH]))
                     .values(failed_unacknowledged=True))


def downgrade():
    # Nothing to write back: the recovery job still gives its failures the reason text starting with
    # _PREFIX, which is what the code before this revision reads them by.
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('failed_unacknowledged')
