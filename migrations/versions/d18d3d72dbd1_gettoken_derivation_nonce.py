"""gettoken answers the same token: api_tokens.derivation_nonce, from which with SECRET_KEY that token is derived

Revision ID: d18d3d72dbd1
Revises: c6bfc716ada4
Create Date: 2026-11-23 08:37:58.570599

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd18d3d72dbd1'
down_revision = 'c6bfc716ada4'
branch_labels = None
depends_on = None


def upgrade():
    # Tokens gettoken answered until now keep working; they have no nonce, so the next gettoken call
    # issues one derived token and answers that one from then on.
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('derivation_nonce', sa.String(length=32), nullable=True))


def downgrade():
    # The derived tokens stay valid (their hashes are kept); gettoken goes back to a new token per call.
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('derivation_nonce')
