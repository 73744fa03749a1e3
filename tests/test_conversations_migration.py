"""The migration 822ea99bad0a adds ``conversations`` (the Inbox's rows) and fills it from the incoming messages
stored so far: one row per account and number, with the count and the time of the newest. Run on the suite's
database: a scratch SQLite file, or on MariaDB the shared database, emptied of its tables for the test and
migrated to head again."""
from datetime import datetime

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from smsplatform.extensions import db
from tests.support.migrations import insert_accounts, insert_messages

BEFORE = "ce7de7970e94"  # where the migrated_to_before fixture (tests/conftest.py) leaves the database
MESSAGES = [  # account, phone, status, created_at
    (1, "+15551234567", 5, datetime(2026, 11, 1, 8, 0)),
    (1, "+15551234567", 5, datetime(2026, 11, 3, 9, 30, 0, 250000)),  # its newest
    (1, "+15551234567", 5, datetime(2026, 11, 2, 7, 0)),
    (1, "+15551234567", 7, datetime(2026, 11, 4, 7, 0)),   # a reply that went out: not incoming
    (1, "SHOPNEWS", 5, datetime(2026, 10, 30, 12, 0)),     # a sender that is no number, as the phone gave it
    (1, "+15559999999", 1, datetime(2026, 11, 5, 7, 0)),   # only written to: no conversation
    (2, "+15551234567", 5, datetime(2026, 11, 2, 10, 0)),  # the same number writing to another account
]


def test_upgrade_fills_one_conversation_per_account_and_number_and_downgrade_drops_the_table(migrated_to_before):
    with db.engine.begin() as connection:
        insert_accounts(connection, [1, 2], datetime(2026, 10, 1))
        insert_messages(connection, [{"account_id": account, "phone": phone, "status": status, "at": at}
                                     for account, phone, status, at in MESSAGES])

    upgrade()

    with db.engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT account_id, phone, last_at, received FROM conversations ORDER BY account_id, phone")).all()
    assert [(account, phone, str(last_at), received) for account, phone, last_at, received in rows] == [
        (1, "+15551234567", "2026-11-03 09:30:00.250000", 3),
        (1, "SHOPNEWS", "2026-10-30 12:00:00", 1),
        (2, "+15551234567", "2026-11-02 10:00:00", 1),
    ]

    downgrade(revision=BEFORE)
    assert "conversations" not in inspect(db.engine).get_table_names()
