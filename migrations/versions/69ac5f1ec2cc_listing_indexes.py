"""listing indexes: getallsms by device, by number and by customer id in date order

Revision ID: 69ac5f1ec2cc
Revises: fecd14b7d540
Create Date: 2026-11-23 01:24:18.974698

"""
from alembic import op
import sqlalchemy as sa
import smsplatform.models.types


# revision identifiers, used by Alembic.
revision = '69ac5f1ec2cc'
down_revision = 'fecd14b7d540'
branch_labels = None
depends_on = None


def upgrade():
    # The new indexes first, so listings stay served while the old ones are dropped.
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index('ix_messages_account_device_created', ['account_id', 'device_id', 'created_at'], unique=False)
        batch_op.create_index('ix_messages_account_phone_created', ['account_id', 'phone', 'created_at'], unique=False)
        batch_op.create_index('ix_messages_account_customer_created', ['account_id', 'customer_id', 'created_at'], unique=False)
        batch_op.drop_index(batch_op.f('ix_messages_account_phone'))
        batch_op.drop_index(batch_op.f('ix_messages_account_customer'))


def downgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_messages_account_phone'), ['account_id', 'phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_account_customer'), ['account_id', 'customer_id'], unique=False)
        batch_op.drop_index('ix_messages_account_phone_created')
        batch_op.drop_index('ix_messages_account_customer_created')
        batch_op.drop_index('ix_messages_account_device_created')
