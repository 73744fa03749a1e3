"""The other side of a race, landing at a chosen moment: just before (or just after) one of our statements
reaches the database, another connection (the scheduler process, another tab) changes a row and commits.
No threads: the race is the same every run."""
from contextlib import contextmanager

from sqlalchemy import event

from smsplatform.extensions import db


@contextmanager
def before_statement(prefix: str, other_connection_does, *, containing: str = ""):
    """Just before our statement starting with ``prefix`` (and containing ``containing``, to tell two reads
    of one table apart) reaches the database, another connection runs ``other_connection_does(connection)``
    and commits (once). Yields the statements it ran before: empty if ours never came, which a test
    asserts against."""
    with _other_side("before_cursor_execute", prefix, containing, other_connection_does) as fired:
        yield fired


@contextmanager
def after_statement(prefix: str, other_connection_does, *, containing: str = ""):
    """``before_statement``, just after our statement (a read whose answer the other side then makes
    stale, before our transaction has written anything: on SQLite a write of ours would hold the lock
    the other side waits for)."""
    with _other_side("after_cursor_execute", prefix, containing, other_connection_does) as fired:
        yield fired


@contextmanager
def _other_side(event_name: str, prefix: str, containing: str, other_connection_does):
    fired = []

    def hook(_connection, _cursor, statement, _parameters, _context, _executemany):
        if not fired and statement.lstrip().startswith(prefix) and containing in statement:
            fired.append(statement)
            with db.engine.connect() as other:
                other_connection_does(other)
                other.commit()

    event.listen(db.engine, event_name, hook)
    try:
        yield fired
    finally:
        event.remove(db.engine, event_name, hook)
