"""The tag key migration (9160d298e4f3) gives old tags today's ``tag_key`` and merges those it equates.

Run on the suite's database: a scratch SQLite file, or on MariaDB the shared database, emptied of its
tables for the test and migrated to head again afterwards.
"""
from datetime import datetime, timezone

from flask_migrate import upgrade
from sqlalchemy import MetaData, Table, select

from smsplatform.contacts.services import tag_key
from smsplatform.extensions import db
from smsplatform.models import Account, Contact, Paket, Tag, contact_tags, paket_tags
from tests.conftest import database_is_mariadb

BEFORE = "69ac5f1ec2cc"  # where the migrated_to_before fixture (tests/conftest.py) leaves the database
NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)

# Old keys were title.casefold(). The duplicates are titles MariaDB's collation tells apart (so both
# databases can hold them with the old keys) but tag_key equates: squared letters (U+1F130…) and the
# modifier letter small c (U+1D9C) spell out to "cafe", "cinema", "cool".
TAGS = [  # id, account, title
    (1, 1, "Café"),          # keeper of 2, 3 (and on SQLite 12): its key changes
    (2, 1, "🄲🄰🄵🄴"),
    (3, 1, "ᶜafé"),
    (4, 1, "Straße"),        # alone, key "strasse" before and after
    (5, 1, "Cinema"),        # keeper of 9: its key stays
    (9, 1, "ᶜinema"),
    (10, 1, "ᶜool"),          # keeper (the lower id) of 11, which already has its new key "cool"
    (11, 1, "Cool"),
    (20, 2, "Café"),         # another account's: not merged with account 1's
]
SQLITE_ONLY = [(12, 1, "cafe")]  # MariaDB's unique index already equates "cafe" with "café"
MERGED = {2: 1, 3: 1, 9: 5, 11: 10, 12: 1}
CONTACT_TAGS = [(101, 1), (101, 2), (102, 2), (103, 3), (103, 1), (104, 4), (105, 9), (105, 5),
                (106, 11), (107, 10), (107, 11), (108, 20), (109, 12), (101, 12)]
PAKET_TAGS = [(201, 2), (201, 3), (201, 4), (202, 1), (202, 2), (202, 11), (203, 20), (204, 12)]


def _rows(connection, table):
    return sorted(tuple(row) for row in connection.execute(select(table)).all())


def test_upgrade_rekeys_tags_and_merges_the_duplicates(migrated_to_before):
    tags = TAGS + ([] if database_is_mariadb() else SQLITE_ONLY)
    ids = {tag_id for tag_id, _, _ in tags}
    with db.engine.begin() as connection:
        connection.execute(Account.__table__.insert(), [
            {"id": n, "email": f"user{n}@example.com", "password_hash": "x", "created_at": NOW} for n in (1, 2)])
        connection.execute(Tag.__table__.insert(), [
            {"id": tag_id, "account_id": account_id, "title": title, "title_key": title.casefold(),
             "created_at": NOW} for tag_id, account_id, title in tags])
        connection.execute(Contact.__table__.insert(), [
            {"id": n, "account_id": 2 if n == 108 else 1, "phone": f"+4915{n:09d}", "phone_raw": str(n),
             "name": f"Contact {n}", "created_at": NOW, "updated_at": NOW} for n in range(101, 110)])
        connection.execute(Paket.__table__.insert(), [
            {"id": n, "account_id": 2 if n == 203 else 1, "title": f"Paket {n}", "body": "Hello",
             "created_at": NOW, "updated_at": NOW} for n in range(201, 205)])
        connection.execute(contact_tags.insert(), [
            {"contact_id": c, "tag_id": t} for c, t in CONTACT_TAGS if t in ids])
        connection.execute(paket_tags.insert(), [{"paket_id": p, "tag_id": t} for p, t in PAKET_TAGS if t in ids])
        # As the tables are at this revision: the models may have columns later migrations add.
        other_tables = [Table(table.name, MetaData(), autoload_with=connection)
                        for table in (Account.__table__, Contact.__table__, Paket.__table__)]
        untouched = {table.name: _rows(connection, table) for table in other_tables}

    upgrade()

    with db.engine.connect() as connection:
        stored = connection.execute(
            select(Tag.id, Tag.account_id, Tag.title, Tag.title_key).order_by(Tag.id)).all()
        assert [(tag_id, account_id, title) for tag_id, account_id, title, _ in stored] == [
            (tag_id, account_id, title) for tag_id, account_id, title in tags if tag_id not in MERGED]
        assert [key for *_, key in stored] == [tag_key(title) for _, _, title, _ in stored]
        assert [key for *_, key in stored] == ["cafe", "strasse", "cinema", "cool", "cafe"]

        def merged(pairs):
            return sorted({(other, MERGED.get(tag_id, tag_id)) for other, tag_id in pairs if tag_id in ids})

        assert _rows(connection, contact_tags) == merged(CONTACT_TAGS)
        assert _rows(connection, paket_tags) == merged(PAKET_TAGS)
        assert {table.name: _rows(connection, table) for table in other_tables} == untouched
