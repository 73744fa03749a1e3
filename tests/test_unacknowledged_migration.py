"""The migration c6bfc716ada4 adds ``messages.failed_unacknowledged`` and marks the recovery job's old failures.

Until then the app took a status 9 whose reason starts with "not acknowledged by the phone within " for
the job's timeout failure; exactly those rows are marked. Run on the suite's database: a scratch SQLite
file, or on MariaDB the shared database, emptied of its tables for the test and migrated to head again.
"""
from datetime import datetime

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from smsplatform.extensions import db
from tests.support.migrations import insert_accounts, insert_messages

BEFORE = "9160d298e4f3"  # where the migrated_to_before fixture (tests/conftest.py) leaves the database
NOW = datetime(2026, 11, 1)
REASON = "not acknowledged by the phone within 3600 s"
MESSAGES = [  # id, status, failure_reason, marked after the upgrade
    (1, 9, REASON, True),
    (2, 9, "not acknowledged by the phone within 60 s", True),
    (3, 9, "RESULT_ERROR_GENERIC_FAILURE", False),
    (4, 9, None, False),
    (5, 10, REASON, False),                                   # not a generic failure
    (6, 8, REASON, False),
    (7, 9, "Not acknowledged by the phone within 60 s", False),  # LIKE ignores case; the app never did
    (8, 9, "not acknowledged by the phone", False),
    (9, 2, None, False),
    (10, 6, None, False),
]


def test_upgrade_marks_exactly_the_recovery_jobs_failures_and_downgrade_drops_the_column(migrated_to_before):
    with db.engine.begin() as connection:
        insert_accounts(connection, [1], NOW)
        insert_messages(connection, [{"id": message_id, "status": status, "failure_reason": reason, "at": NOW}
                                     for message_id, status, reason, _ in MESSAGES])

    upgrade()

    with db.engine.connect() as connection:
        marked = connection.execute(text("SELECT id, failed_unacknowledged FROM messages ORDER BY id")).all()
        untouched = connection.execute(text("SELECT id, status, failure_reason FROM messages ORDER BY id")).all()
    assert [(message_id, bool(flag)) for message_id, flag in marked] == [
        (message_id, flag) for message_id, _, _, flag in MESSAGES]
    assert [tuple(row) for row in untouched] == [(message_id, status, reason) for message_id, status, reason, _ in MESSAGES]

    downgrade(revision=BEFORE)
    assert "failed_unacknowledged" not in {column["name"] for column in inspect(db.engine).get_columns("messages")}
