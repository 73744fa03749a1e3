"""Running jobs: the wrapper that gives each run a fresh app context and one commit, and the scheduler."""
import importlib
import inspect
import logging
import signal
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from apscheduler.schedulers.blocking import BlockingScheduler

from smsplatform.extensions import db
from smsplatform.scheduler.jobs import JOBS, Job

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedJob:
    """A job's service function, resolved once, and whether it takes the app's config."""
    name: str
    function: Callable
    wants_config: bool


def resolve(target: str):
    module_name, _, attribute = target.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


def prepare(target: str, name: str | None = None) -> PreparedJob:
    """Resolve a dotted path (raises at once if it is wrong) and look at its signature, once."""
    function = resolve(target)
    return PreparedJob(name or target, function, "config" in inspect.signature(function).parameters)


# Each job's run of failures in this process: (failed runs in a row, the last one's error). While the database is
# away every job fails every run; one traceback per job and then one line a run keeps the log readable.
_failing: dict[str, tuple[int, str]] = {}


def _failed(job: PreparedJob, error: Exception) -> None:
    """Log a failed run: the traceback when the job starts failing or fails differently, else one line."""
    text = f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0]}"
    count, last = _failing.get(job.name, (0, ""))
    _failing[job.name] = (count + 1, text)
    if count and text == last:
        log.error("scheduler job %s failed again (%d runs in a row): %s", job.name, count + 1, text)
    else:
        log.exception("scheduler job %s failed", job.name)


def _succeeded(job: PreparedJob) -> None:
    count, _last = _failing.pop(job.name, (0, ""))
    if count:
        log.info("scheduler job %s ran again after %d failed runs", job.name, count)


def run_prepared(app, job: PreparedJob):
    """Call the service function once: commit what it did, or roll back and log. Never raises,
    so one failing run changes nothing for the next run or for any other job."""
    with app.app_context():
        try:
            result = job.function(config=app.config) if job.wants_config else job.function()
            db.session.commit()
            _succeeded(job)
            return result
        except Exception as error:
            _failed(job, error)
            try:
                db.session.rollback()
            except Exception:  # the database went away: the connection is discarded below
                log.exception("scheduler job %s: rollback failed", job.name)
            return None
        finally:
            db.session.remove()


def run_job(app, target: str):
    """One run of the job at ``target`` (a dotted path), resolved now: for one-off runs in tests.
    The scheduler resolves its jobs once, when it is built."""
    return run_prepared(app, prepare(target))


def build_scheduler(app, jobs: list[Job] = JOBS) -> BlockingScheduler:
    """The scheduler with every job resolved: a wrong path fails here, at start, not an hour later."""
    prepared = [(job, prepare(job.target, job.id)) for job in jobs]
    scheduler = BlockingScheduler(timezone="UTC")
    for job, runnable in prepared:
        scheduler.add_job(
            run_prepared, "interval", seconds=job.seconds, args=(app, runnable), id=job.id,
            # One run at a time per process; a late run is done once, not replayed.
            max_instances=1, coalesce=True, misfire_grace_time=max(1, int(job.seconds)),
            **({"next_run_time": datetime.now(timezone.utc)} if job.run_at_start else {}),
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
    log.info("scheduler: %d jobs: %s", len(jobs), ", ".join(j.id for j in jobs))
    scheduler.start()
