"""SQLite's write lock, waited for without stopping the whole web worker.

SQLite lets one transaction write at a time. A connection that finds the lock taken waits in SQLite's
busy handler, which sleeps in C in steps of 1, 2, 5 … 100 ms. In a gevent web worker that sleep stops
every greenlet of the process: the worker's other requests, the phones' event streams, and a greenlet of
this same worker that holds the lock and so cannot finish until the timeout. So the first write of a
transaction takes the lock itself: ``BEGIN IMMEDIATE`` with no busy timeout, tried again after short
sleeps, which gevent turns into turns for everything else the worker serves (outside gevent they are
plain sleeps, finer than the busy handler's). Waits that cannot be done this way (a read meeting a WAL
recovery) keep the busy handler.
"""
import sqlite3
import time

BUSY_TIMEOUT_SECONDS = 30
FIRST_WAIT = 0.0001  # seconds; doubled after each try, up to LONGEST_WAIT
LONGEST_WAIT = 0.002
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def begin_writing(connection: sqlite3.Connection) -> None:
    """Open a transaction holding the write lock, waiting for it cooperatively (see the module)."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    wait = FIRST_WAIT
    cursor = sqlite3.Cursor(connection)
    cursor.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                cursor.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                    raise
            time.sleep(wait)
            wait = min(wait * 2, LONGEST_WAIT)
    finally:
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()


class WriterCursor(sqlite3.Cursor):
    """Takes the write lock with ``begin_writing`` before a statement the driver would open a transaction for
    (it opens one, deferred, before INSERT, UPDATE, DELETE and REPLACE)."""

    def execute(self, sql, parameters=()):
        if not self.connection.in_transaction and _is_write(sql):
            begin_writing(self.connection)
        return super().execute(sql, parameters)

    def executemany(self, sql, seq_of_parameters):
        if not self.connection.in_transaction and _is_write(sql):
            begin_writing(self.connection)
        return super().executemany(sql, seq_of_parameters)


class WriterConnection(sqlite3.Connection):
    """The connection class the engine's SQLite connections are made with (``sqlite3.connect(factory=…)``)."""

    def cursor(self, factory=WriterCursor):
        return super().cursor(factory)


def _is_write(sql: str) -> bool:
    return sql.lstrip()[:7].upper().startswith(_WRITES)
