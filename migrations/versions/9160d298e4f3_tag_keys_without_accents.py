"""tag keys without accents: recompute tags.title_key by today's tag_key, merging the tags it now equates

Revision ID: 9160d298e4f3
Revises: 69ac5f1ec2cc
Create Date: 2026-11-23 02:22:10.981778

"""
from alembic import op
import sqlalchemy as sa
import smsplatform.models.types

import re
import unicodedata


# revision identifiers, used by Alembic.
revision = '9160d298e4f3'
down_revision = '69ac5f1ec2cc'
branch_labels = None
depends_on = None


# A frozen copy of smsplatform.contacts.services.tag_key as of this revision (e319829): a migration
# must not change when the app does. Keys saved before it were title.casefold(), with accents.
_ACCENTS = re.compile("[\u0300-\u036f]")
_KEY_LENGTH = 100  # tags.title_key is String(100)


def _caseless(text):
    return unicodedata.normalize("NFKD", text.casefold())


def _tag_key(title):
    folded = _caseless(_caseless(unicodedata.normalize("NFD", title)))
    return unicodedata.normalize("NFC", " ".join(_ACCENTS.sub("", folded).split()))[:_KEY_LENGTH]


tags = sa.table(
    'tags',
    sa.column('id', sa.Integer), sa.column('account_id', sa.Integer),
    sa.column('title', sa.String), sa.column('title_key', sa.String),
)
contact_tags = sa.table('contact_tags', sa.column('contact_id', sa.Integer), sa.column('tag_id', sa.Integer))
paket_tags = sa.table('paket_tags', sa.column('paket_id', sa.Integer), sa.column('tag_id', sa.Integer))

_BATCH = 500


def upgrade():
    bind = op.get_bind()
    by_account = {}
    for tag_id, account_id, title, title_key in bind.execute(
            sa.select(tags.c.id, tags.c.account_id, tags.c.title, tags.c.title_key).order_by(tags.c.id)):
        key = _tag_key(title)
        by_account.setdefault(account_id, []).append((tag_id, title_key, key))
    for account_id, rows in by_account.items():
        if any(current != key for _, current, key in rows):
            _rekey_account(bind, account_id, rows)


def _rekey_account(bind, account_id, rows):
    """Give every tag of the account its new key, one tag at a time, never breaking uq_tags_account_title.

    Before each update the database is asked which other tag holds the new key, by its own comparison
    (the one the unique index enforces: exact on SQLite, accent- and case-insensitive on MariaDB):
    - none: the key is set;
    - a tag that already has its new key: the two are one tag now; the lower id is kept (with its
      title) and the other merged into it;
    - a tag still waiting for its own new key: this one waits for the next pass. Should a pass move
      nothing (keys swapping round a cycle), one tag parks on a placeholder key to break it.
    """
    key = {tag_id: new for tag_id, _, new in rows}
    current = {tag_id: old for tag_id, old, _ in rows}
    pending = [tag_id for tag_id, old, new in rows if old != new]  # in id order
    while pending:
        waiting = []
        for tag_id in pending:
            if tag_id not in current:  # merged into another tag this pass
                continue
            holder = _holder(bind, account_id, key[tag_id], tag_id)
            if holder is None:
                _set_key(bind, tag_id, key[tag_id])
                current[tag_id] = key[tag_id]
            elif current[holder] == key[holder]:
                keeper, duplicate = min(tag_id, holder), max(tag_id, holder)
                _merge(bind, duplicate, keeper)
                del current[duplicate]
                if keeper == tag_id:
                    _set_key(bind, tag_id, key[tag_id])
                    current[tag_id] = key[tag_id]
            else:
                waiting.append(tag_id)
        if waiting and len(waiting) == len([t for t in pending if t in current]):
            parked = waiting[0]
            current[parked] = _park(bind, account_id, parked)
        pending = waiting


def _holder(bind, account_id, title_key, other_than):
    return bind.execute(sa.select(tags.c.id).where(
        tags.c.account_id == account_id, tags.c.title_key == title_key, tags.c.id != other_than)).scalar()


def _set_key(bind, tag_id, title_key):
    bind.execute(tags.update().where(tags.c.id == tag_id).values(title_key=title_key))


def _park(bind, account_id, tag_id):
    n = 0
    while True:
        placeholder = f"#tag key migration {tag_id}.{n}"
        if _holder(bind, account_id, placeholder, tag_id) is None:
            _set_key(bind, tag_id, placeholder)
            return placeholder
        n += 1


def _merge(bind, duplicate, keeper):
    """Re-point the duplicate's contacts and pakets to the keeper (each pair once), then delete it."""
    for table, other in ((contact_tags, contact_tags.c.contact_id), (paket_tags, paket_tags.c.paket_id)):
        kept = set(bind.execute(sa.select(other).where(table.c.tag_id == keeper)).scalars())
        moving = [value for value in bind.execute(sa.select(other).where(table.c.tag_id == duplicate)).scalars()
                  if value not in kept]
        for start in range(0, len(moving), _BATCH):
            bind.execute(table.update()
                         .where(table.c.tag_id == duplicate, other.in_(moving[start:start + _BATCH]))
                         .values(tag_id=keeper))
        bind.execute(table.delete().where(table.c.tag_id == duplicate))
    bind.execute(tags.delete().where(tags.c.id == duplicate))


def downgrade():
    # Nothing to undo: merged tags cannot be split again (which contact had which of them is gone), and
    # the new keys are valid data for the old rule too: casefolded keys would only make SQLite miss
    # accented titles again, the bug this revision repairs.
    pass
