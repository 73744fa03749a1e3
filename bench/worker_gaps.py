"""How long work in a gevent web worker holds up the worker's other greenlets (its other requests, the
phones' event streams, its heartbeat to gunicorn): the gaps between another greenlet's ticks.

Imported by scripts that have monkey-patched first, as ``gunicorn.conf.py`` does for the web workers.
"""
import time

import gevent

TICK = 0.005


def gaps_while(work) -> tuple[list[float], float]:
    """The gaps between the ticks of another greenlet while ``work()`` runs, and the seconds it took."""
    gaps, finished = [], []

    def ticker():
        last = time.perf_counter()
        while not finished:
            gevent.sleep(TICK)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    other = gevent.spawn(ticker)
    gevent.sleep(TICK)  # the ticker is waiting on its timer, as an idle connection waits on its socket
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    finished.append(1)
    other.join()
    return gaps, seconds


def idle_gaps(ticks: int) -> list[float]:
    """The floor: the gaps of as many ticks with nothing else running."""
    return gaps_while(lambda: gevent.sleep(TICK * ticks))[0]
