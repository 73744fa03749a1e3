"""Writes that meet a unique key another transaction may be writing at the same moment, in savepoints.

Two calls that both look a row up, find nothing and insert it (two workers of an integration saving one
contact, a double-clicked form) race on the unique key: one insert wins, the other fails once the winner
has committed (MariaDB makes it wait on the key, SQLite on the write lock), so the winner's row is then
visible to it (READ COMMITTED on MariaDB).
"""
from contextlib import contextmanager

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from smsplatform.db_sqlite_lock import begin_writing
from smsplatform.extensions import db


def insert_ignoring_duplicates(table):
    """An INSERT that skips rows breaking a unique constraint (``INSERT OR IGNORE`` / ``INSERT IGNORE``)."""
    return (insert(table).prefix_with("OR IGNORE", dialect="sqlite")
            .prefix_with("IGNORE", dialect="mysql").prefix_with("IGNORE", dialect="mariadb"))


@contextmanager
def savepoint():
    """``db.session.begin_nested()`` that stays part of the caller's transaction on SQLite too.

    The SQLite driver opens a transaction only before INSERT, UPDATE and DELETE. A SAVEPOINT before any of
    them begins a transaction of its own, and its RELEASE commits it: a later rollback of the request (a
    refused call, a webhook failing after its receipt, which the phone then sends again as a "duplicate")
    could no longer undo the row. So on SQLite a transaction is opened first where none is: IMMEDIATE, as
    a write follows at once.
    """
    begin_writing_on_sqlite()
    with db.session.begin_nested() as nested:
        yield nested


def locked(query, *, shared: bool = False):
    """``query`` (a SELECT) made to lock the rows it reads until the transaction ends, so that a check made on
    them still holds when the transaction writes: FOR UPDATE, or a shared lock (``shared``) that only keeps
    them from being changed or deleted. SQLite locks no rows: there the transaction takes the database's
    write lock first (BEGIN IMMEDIATE), which no other writer can commit past until it ends."""
    begin_writing_on_sqlite()
    return query.with_for_update(read=shared)


def begin_writing_on_sqlite() -> None:
    """On SQLite, open the session's transaction with the database's write lock (BEGIN IMMEDIATE, waited for
    as ``db_sqlite_lock`` does) unless it has one: what is read from here on stays true until the commit. A
    no-op on MariaDB."""
    connection = db.session.connection()
    if connection.dialect.name == "sqlite" and not sqlite_transaction_open(connection):
        begin_writing(connection.connection.driver_connection)


def sqlite_transaction_open(connection) -> bool:
    """Whether this SQLite connection is inside a transaction. Its driver opens one only before a write
    (or ``savepoint``'s BEGIN IMMEDIATE), so an open one holds the database's write lock."""
    return connection.connection.driver_connection.in_transaction


def add_unless_taken(row, taken_by):
    """Add and flush ``row`` in a savepoint; when a concurrent call has just committed its unique key, the
    row that call committed instead (``taken_by()``, called after the savepoint's rollback)."""
    winner = _unless_taken(lambda: db.session.add(row), taken_by)
    return row if winner is None else winner


def update_unless_taken(row, values: dict, taken_by):
    """Set ``values`` on ``row`` and flush, in a savepoint; None when that stood, or when a concurrent call
    has just committed the unique key they needed, the row holding it (``taken_by()``)."""
    def write():
        for name, value in values.items():
            setattr(row, name, value)
    return _unless_taken(write, taken_by)


def _unless_taken(write, taken_by):
    try:
        with savepoint():
            write()
        return None
    except IntegrityError:
        winner = taken_by()
        if winner is None:
            raise  # another constraint failed
        return winner
