"""Turns for the rest of a web worker while one request works through a long loop.

The web workers are gevent workers: one process serves every connection in turn, switching only when
a greenlet waits. A loop of pure Python (an import's parsing, a 100,000-message batch's validation)
would otherwise hold up the worker's other requests, its event streams (phones waiting for an urgent
message) and its heartbeat until it ends. Outside gevent the turn is a 0.1 ms sleep.
"""
import time

# About 20-40 ms of a loop's work between turns.
EVERY = 500


def let_others_run() -> None:
    """A turn for everything else this process serves. A sleep of 0.1 ms (20 ms over 100,000 items),
    not ``sleep(0)``: gevent runs other greenlets' timers and I/O only on a loop iteration.

    Never inside a write transaction: a greenlet that then waits on SQLite's lock blocks the whole
    worker (SQLite's busy handler sleeps in C), and the holder never gets its turn back."""
    time.sleep(0.0001)
