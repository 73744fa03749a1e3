"""pakets.cancel_reason: why the scheduler cancelled a newsletter when its time came instead of starting it

Revision ID: 5b2e8f4c1a97
Revises: d18d3d72dbd1
Create Date: 2026-11-24 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b2e8f4c1a97'
down_revision = 'd18d3d72dbd1'
branch_labels = None
depends_on = None


def upgrade():
    # Newsletters cancelled until now were all cancelled by their account: no reason to fill in.
    with op.batch_alter_table('pakets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancel_reason', sa.String(length=255), nullable=True))


def downgrade():
    # The newsletters the scheduler cancelled stay cancelled, without the note saying why.
    with op.batch_alter_table('pakets', schema=None) as batch_op:
        batch_op.drop_column('cancel_reason')
