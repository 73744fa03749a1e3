"""contacts in id order per account: ix_contacts_account_id, for the list's pages and the export's chunks

Revision ID: ce7de7970e94
Revises: 5b2e8f4c1a97
Create Date: 2026-11-23 22:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'ce7de7970e94'
down_revision = '5b2e8f4c1a97'
branch_labels = None
depends_on = None


def upgrade():
    # Newest first within one account: without it both databases sort all of the account's contacts
    # for every page of the list and every chunk of an export.
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index('ix_contacts_account_id', ['account_id', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_contacts_account_id')
