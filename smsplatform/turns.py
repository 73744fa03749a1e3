"""Turns for the rest of a web worker while one request works through a long loop.

The web workers are gevent workers: one process serves every connection in turn, switching only when
a greenlet waits. A loop of pure Python (an import's parsing, a 100,000-message batch's validation)
would otherwise hold up the worker's other requests, its event streams (phones waiting for an urgent
message) and its heartbeat until it ends. Outside gevent the turn is a 0.1 ms sleep.
"""
import time

from smsplatform.db_unique import sqlite_transaction_open

# Items of a loop between turns: 5-15 ms of work (a batch's validation, an import's parsing).
EVERY = 200


def let_others_run() -> None:
    """A turn for everything else this process serves. A sleep of 0.1 ms (20 ms over 100,000 items),
    not ``sleep(0)``: gevent runs other greenlets' timers and I/O only on a loop iteration.

    Never inside a write transaction: a greenlet that then waits on SQLite's lock blocks the whole
    worker (SQLite's busy handler sleeps in C), and the holder never gets its turn back."""
    time.sleep(0.0001)


def now_and_then(done: int, session=None) -> None:
    """``let_others_run`` once every ``EVERY`` items of a loop (``done`` items so far). With a ``session``,
    skipped while it holds SQLite's write lock (a call that stored its upload's row before validating its
    messages, say); on MariaDB a greenlet waiting on a row lock waits on its socket, so the worker goes on."""
    if done == 0 or done % EVERY:
        return
    if session is not None:
        connection = session.connection()
        if connection.dialect.name == "sqlite" and sqlite_transaction_open(connection):
            return
    let_others_run()
