"""Turns for the rest of a web worker while one request works through a long loop.

The web workers are gevent workers: one process serves every connection in turn, switching only when
a greenlet waits. A loop of pure Python (an import's parsing, a 100,000-message batch's validation)
would otherwise hold up the worker's other requests, its event streams (phones waiting for an urgent
message) and its heartbeat until it ends. Outside gevent the turn is a 0.1 ms sleep.
"""
import time

# Items of a loop between turns: 5-15 ms of work (a batch's validation, an import's parsing).
EVERY = 200


def let_others_run() -> None:
    """A turn for everything else this process serves. A sleep of 0.1 ms (20 ms over 100,000 items),
    not ``sleep(0)``: gevent runs other greenlets' timers and I/O only on a loop iteration.

    Safe inside a write transaction too: a greenlet that then wants to write waits for the lock with turns
    of its own (on SQLite, ``db_sqlite_lock``; on MariaDB on its socket), so the holder gets its turn back."""
    time.sleep(0.0001)


def now_and_then(done: int) -> None:
    """``let_others_run`` once every ``EVERY`` items of a loop (``done`` items so far)."""
    if done and not done % EVERY:
        let_others_run()
