"""What ``begin_writing_on_sqlite`` rests on: whether a SQLite connection holds the write lock (then it has
one, and must not begin another transaction)."""
import pytest
from sqlalchemy import text

from smsplatform.db_unique import sqlite_transaction_open
from smsplatform.extensions import db
from tests.conftest import database_is_mariadb

pytestmark = pytest.mark.skipif(database_is_mariadb(), reason="SQLite's write lock; MariaDB locks rows")


def test_a_sqlite_transaction_is_open_from_the_first_write_to_the_commit(make_account):
    make_account()
    connection = db.session.connection()
    db.session.execute(text("SELECT COUNT(*) FROM accounts")).scalar()
    assert not sqlite_transaction_open(connection)  # reads open none: no lock held
    db.session.execute(text("UPDATE accounts SET timezone = 'UTC'"))
    assert sqlite_transaction_open(connection)
    db.session.commit()
    assert not sqlite_transaction_open(db.session.connection())

