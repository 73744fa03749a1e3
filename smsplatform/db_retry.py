"""Re-running a request whose transaction MariaDB chose as a deadlock victim.

InnoDB resolves a deadlock by rolling one transaction back (error 1213) and expects the client to
run it again; a lock wait timeout (1205) is handled the same way. Nothing of the victim was kept,
so running the whole unit of work again is safe and is what a client would otherwise have to do.
"""
import logging
import random
import time
from functools import wraps

from sqlalchemy.exc import OperationalError

from smsplatform.extensions import db

log = logging.getLogger(__name__)

RETRYABLE_MYSQL_ERRORS = {1205, 1213}  # ER_LOCK_WAIT_TIMEOUT, ER_LOCK_DEADLOCK
ATTEMPTS = 4


def is_retryable(error: BaseException) -> bool:
    if not isinstance(error, OperationalError):
        return False
    args = getattr(error.orig, "args", ())
    return bool(args) and args[0] in RETRYABLE_MYSQL_ERRORS


def retry_on_deadlock(unit_of_work):
    """Wrap a view that commits its own transaction: a deadlock victim is rolled back and run again.
    (Scheduler jobs are not wrapped: a job that loses a deadlock fails that run, and the next run redoes it.)"""

    @wraps(unit_of_work)
    def wrapper(*args, **kwargs):
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return unit_of_work(*args, **kwargs)
            except OperationalError as error:
                if not is_retryable(error) or attempt == ATTEMPTS:
                    raise
                db.session.rollback()
                log.info("%s: deadlock victim, attempt %d of %d", unit_of_work.__name__, attempt, ATTEMPTS)
                time.sleep(random.uniform(0.005, 0.03) * attempt)
        raise AssertionError("unreachable")

    return wrapper
