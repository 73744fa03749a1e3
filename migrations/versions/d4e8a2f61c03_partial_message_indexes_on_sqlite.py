"""SQLite: the customer, newsletter and image indexes of messages become partial (rows with the value only)

Revision ID: d4e8a2f61c03
Revises: b7c3e91d4a26
Create Date: 2026-11-24 13:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4e8a2f61c03'
down_revision = 'b7c3e91d4a26'
branch_labels = None
depends_on = None

# name, columns, the column a row must have to be in the index
_INDEXES = (
    ('ix_messages_account_customer_created', ['account_id', 'customer_id', 'created_at'], 'customer_id'),
    ('ix_messages_paket_status', ['paket_id', 'status'], 'paket_id'),
    ('ix_messages_media_object_id', ['media_object_id'], 'media_object_id'),
)


def upgrade():
    # Every lookup by these columns names a value, which SQLite's planner knows is not NULL, so it uses the
    # partial index; a message without one (every OTP sent with addsms) is no longer written to the three.
    # MariaDB has no partial indexes: nothing changes there.
    if op.get_bind().dialect.name != 'sqlite':
        return
    for name, columns, column in _INDEXES:
        op.drop_index(name, table_name='messages')
        op.create_index(name, 'messages', columns, sqlite_where=sa.text(f'{column} IS NOT NULL'))


def downgrade():
    if op.get_bind().dialect.name != 'sqlite':
        return
    for name, columns, _column in _INDEXES:
        op.drop_index(name, table_name='messages')
        op.create_index(name, 'messages', columns)
