"""Running jobs: the wrapper that gives each run a fresh app context and one commit, and the scheduler."""
import importlib
import inspect
import logging
import signal

from apscheduler.schedulers.blocking import BlockingScheduler

from smsplatform.extensions import db
from smsplatform.scheduler.jobs import JOBS, Job

log = logging.getLogger(__name__)


def resolve(target: str):
    module_name, _, attribute = target.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


def run_job(app, target: str):
    """Call the service function once: commit what it did, or roll back and log. Never raises."""
    with app.app_context():
        try:
            function = resolve(target)
            kwargs = {"config": app.config} if "config" in inspect.signature(function).parameters else {}
            result = function(**kwargs)
            db.session.commit()
            return result
        except Exception:
            db.session.rollback()
            log.exception("scheduler job %s failed", target)
            return None
        finally:
            db.session.remove()


def build_scheduler(app, jobs: list[Job] = JOBS) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone="UTC")
    for job in jobs:
        scheduler.add_job(
            run_job, "interval", seconds=job.seconds, args=(app, job.target), id=job.id,
            # One run at a time per process; a late run is done once, not replayed.
            max_instances=1, coalesce=True, misfire_grace_time=max(1, int(job.seconds)),
        )
    return scheduler


def run_forever(app, jobs: list[Job] = JOBS) -> None:
    """Block until SIGTERM/SIGINT; a running job finishes its transaction or is rolled back by the database."""
    scheduler = build_scheduler(app, jobs)

    def _stop(signum, _frame):
        log.info("scheduler: signal %s, stopping", signum)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    for job in jobs:  # fail at start, not an hour later, if a path is wrong
        resolve(job.target)
    log.info("scheduler: %d jobs: %s", len(jobs), ", ".join(j.id for j in jobs))
    scheduler.start()
