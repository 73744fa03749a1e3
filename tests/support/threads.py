"""Real threads for concurrency tests, each in its own app context (own scoped session and connection).

Nothing here can hang the run: the start barrier and the joins have timeouts, and the threads are
daemons, so one stuck on a lock fails its test instead of keeping the process alive.
"""
import threading
import time

from smsplatform.extensions import db

BARRIER_TIMEOUT = 30  # seconds every thread waits for the others to be ready


def run_in_threads(app, *targets, timeout: float = 120):
    """Run each of ``targets`` in its own daemon thread, all released at once by a barrier; their results,
    in the order of ``targets``.

    Fails if a thread is still running ``timeout`` seconds after the start; re-raises the first error a
    target raised (a broken barrier included)."""
    count = len(targets)
    barrier = threading.Barrier(count, timeout=BARRIER_TIMEOUT)
    results, errors = [None] * count, []

    def worker(index, target):
        with app.app_context():
            try:
                barrier.wait()
                results[index] = target()
            except Exception as exc:  # re-raised below, in the test's thread
                errors.append(exc)
                barrier.abort()  # the others, if still waiting, stop now rather than at the timeout
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i, t), name=f"test-worker-{i}", daemon=True)
               for i, t in enumerate(targets)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()))
    alive = [t.name for t in threads if t.is_alive()]
    assert not alive, f"still running after {timeout} s: {alive}; errors so far: {errors!r}"
    if errors:
        raise errors[0]
    return results
