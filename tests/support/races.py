"""The other side of a race, landing at a chosen moment: just before one of our statements reaches the
database, another connection (the scheduler process, another tab) changes a row and commits. No threads:
the race is the same every run."""
from contextlib import contextmanager

from sqlalchemy import event

from smsplatform.extensions import db


@contextmanager
def before_statement(prefix: str, other_connection_does):
    """Just before our statement starting with ``prefix`` reaches the database, another connection
    runs ``other_connection_does(connection)`` and commits (once). Yields the statements it ran before:
    empty if ours never came, which a test asserts against."""
    fired = []

    def hook(_connection, _cursor, statement, _parameters, _context, _executemany):
        if not fired and statement.startswith(prefix):
            fired.append(statement)
            with db.engine.connect() as other:
                other_connection_does(other)
                other.commit()

    event.listen(db.engine, "before_cursor_execute", hook)
    try:
        yield fired
    finally:
        event.remove(db.engine, "before_cursor_execute", hook)
