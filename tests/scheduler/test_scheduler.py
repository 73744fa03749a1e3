"""The scheduler: the job wrapper's one commit, the job table, and the real process."""
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from smsplatform.extensions import db
from smsplatform.models import Account, Message
from smsplatform.scheduler import runner
from smsplatform.scheduler.jobs import JOBS, Job
from smsplatform.timeutil import utcnow
from tests.conftest import database_is_mariadb

ROOT = Path(__file__).resolve().parents[2]


def _rename_account(new_email):
    account = db.session.scalar(select(Account))
    account.email = new_email
    db.session.flush()


def _rename_then_fail(new_email):
    _rename_account(new_email)
    raise RuntimeError("boom")


def _wants_config(config):
    return config["UNACKED_FAIL_SECONDS"]


def test_job_wrapper_commits_once(app, account):
    runner.run_job(app, f"{__name__}._rename_committed")
    db.session.expire_all()
    assert db.session.scalar(select(Account.email)) == "renamed@example.com"


def _rename_committed():
    _rename_account("renamed@example.com")


def test_job_wrapper_rolls_back_and_logs_a_failure(app, account, caplog, monkeypatch):
    monkeypatch.setattr(runner.log, "disabled", False)  # Alembic's fileConfig disables existing loggers
    with caplog.at_level(logging.ERROR):
        assert runner.run_job(app, f"{__name__}._failing") is None
    db.session.expire_all()
    assert db.session.scalar(select(Account.email)) == "owner@example.com"
    assert "failed" in caplog.text and "boom" in caplog.text


def _failing():
    _rename_then_fail("nope@example.com")


def test_job_wrapper_passes_the_config_to_functions_that_take_it(app):
    assert runner.run_job(app, f"{__name__}._wants_config") == app.config["UNACKED_FAIL_SECONDS"]


def test_every_declared_job_resolves_and_is_sane():
    ids = [job.id for job in JOBS]
    assert len(ids) == len(set(ids))
    for job in JOBS:
        assert callable(runner.resolve(job.target))
        assert job.seconds > 0
    assert {"release-due-messages", "redeliver-or-fail-unacknowledged", "fail-left-on-silent-phones",
            "cancel-left-on-removed-devices", "prune-auth-failures", "prune-dashboard-sessions",
            "mark-silent-devices-offline",
            "prune-expired-pairing-codes", "prune-webhook-receipts"} <= set(ids)


def test_scheduler_builds_one_interval_job_per_entry(app):
    scheduler = runner.build_scheduler(app)
    assert sorted(job.id for job in scheduler.get_jobs()) == sorted(job.id for job in JOBS)
    job = scheduler.get_job("release-due-messages")
    assert job.max_instances == 1 and job.coalesce


def test_the_scheduler_resolves_each_job_once_when_it_is_built(app, account, monkeypatch):
    resolved = []
    real_resolve = runner.resolve
    monkeypatch.setattr(runner, "resolve", lambda target: resolved.append(target) or real_resolve(target))
    scheduler = runner.build_scheduler(app, [Job("rename", 60, f"{__name__}._rename_committed"),
                                             Job("config", 60, f"{__name__}._wants_config")])
    assert sorted(resolved) == sorted([f"{__name__}._rename_committed", f"{__name__}._wants_config"])

    def no_more(target):
        raise AssertionError(f"resolved {target} again at run time")

    monkeypatch.setattr(runner, "resolve", no_more)
    for _ in range(3):
        results = {job.id: job.func(*job.args, **job.kwargs) for job in scheduler.get_jobs()}
    assert results["config"] == app.config["UNACKED_FAIL_SECONDS"]
    db.session.expire_all()
    assert db.session.scalar(select(Account.email)) == "renamed@example.com"


def test_a_wrong_job_path_fails_when_the_scheduler_is_built(app):
    with pytest.raises((ImportError, AttributeError)):
        runner.build_scheduler(app, [Job("fine", 1, f"{__name__}._wants_config"),
                                     Job("typo", 1, f"{__name__}._no_such_job")])
    with pytest.raises(ImportError):
        runner.build_scheduler(app, [Job("typo", 1, "smsplatform.no_such_module.job")])


_RUNS = {"good": 0, "bad": 0}


def _counted_good():
    _RUNS["good"] += 1
    _rename_account(f"good{_RUNS['good']}@example.com")


def _counted_bad():
    _RUNS["bad"] += 1
    _rename_then_fail("bad@example.com")


def test_a_failing_job_neither_stops_nor_spoils_the_others(app, account, monkeypatch):
    """The real scheduler loop: a job that fails on every run is run again and again, and the others
    go on committing beside it."""
    monkeypatch.setattr(runner.log, "disabled", False)
    monkeypatch.setitem(_RUNS, "good", 0)
    monkeypatch.setitem(_RUNS, "bad", 0)
    scheduler = runner.build_scheduler(app, [Job("bad", 0.1, f"{__name__}._counted_bad"),
                                             Job("good", 0.1, f"{__name__}._counted_good")])
    thread = threading.Thread(target=scheduler.start, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and min(_RUNS.values()) < 3:
            time.sleep(0.05)
        scheduled = {job.id for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=True)
        thread.join(timeout=10)
    assert _RUNS["bad"] >= 3 and _RUNS["good"] >= 3
    assert scheduled == {"bad", "good"}  # the failing job stays scheduled
    db.session.expire_all()
    assert db.session.scalar(select(Account.email)) == f"good{_RUNS['good']}@example.com"


@pytest.mark.skipif(database_is_mariadb(), reason="one process pass is enough; the e2e test runs two on MariaDB")
def test_scheduler_process_releases_due_messages_and_stops_on_sigterm(app, account, base_config, tmp_path):
    """The real ``flask scheduler run`` process against the test database."""
    acc, _token = account
    now = utcnow()
    db.session.add_all([
        Message(account_id=acc.id, sendto="+4915752982212", phone="+4915752982212", body="due", status=1,
                ready=False, due_at=now - timedelta(seconds=1), time_to_send=now - timedelta(seconds=1)),
        Message(account_id=acc.id, sendto="+4915752982213", phone="+4915752982213", body="later", status=1,
                ready=False, due_at=now + timedelta(hours=1), time_to_send=now + timedelta(hours=1)),
    ])
    db.session.commit()
    env = {**os.environ, "DATABASE_URL": base_config["SQLALCHEMY_DATABASE_URI"],
           "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x", "EVENTS_SOCKET_DIR": str(tmp_path / "events")}
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        released = 0
        while time.monotonic() < deadline and not released:
            time.sleep(0.3)
            db.session.expire_all()
            released = db.session.scalar(select(func.count()).where(Message.ready.is_(True)))
        assert released == 1
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "release-due-messages" in output


def test_a_run_at_start_job_runs_when_the_scheduler_starts_and_others_wait_their_interval(app):
    before = utcnow()
    scheduler = runner.build_scheduler(app)
    after = utcnow()
    statistics = scheduler.get_job("refresh-planner-statistics")
    assert before <= statistics.next_run_time <= after  # at once, not one interval on
    # (an unstarted scheduler's other jobs get their first time, one interval on, when it starts)
    assert {j.id for j in scheduler.get_jobs()} == {j.id for j in JOBS}
    assert ({j.id for j in scheduler.get_jobs() if getattr(j, "next_run_time", None) is not None}
            == {j.id for j in JOBS if j.run_at_start})


_OUTAGE = {"down": True}


def _needs_the_database():
    if _OUTAGE["down"]:
        raise ConnectionError("database unreachable\nsecond line of detail")


def test_a_job_failing_run_after_run_logs_its_traceback_once_then_a_line_a_run_then_its_recovery(app, caplog,
                                                                                                   monkeypatch):
    """A database outage fails every job every run (release-due-messages: each second): one traceback per
    job, then one line per failed run, and a line when it runs again, not a 100-line traceback a second."""
    monkeypatch.setattr(runner.log, "disabled", False)
    monkeypatch.setattr(runner, "_failing", {})
    monkeypatch.setitem(_OUTAGE, "down", True)
    job = runner.prepare(f"{__name__}._needs_the_database", "needs-db")
    with caplog.at_level(logging.INFO, logger=runner.log.name):
        for _ in range(3):
            runner.run_prepared(app, job)
        _OUTAGE["down"] = False
        runner.run_prepared(app, job)
        runner.run_prepared(app, job)
    records = [(record.levelname, record.getMessage(), bool(record.exc_info)) for record in caplog.records
               if record.name == runner.log.name]
    assert records == [
        ("ERROR", "scheduler job needs-db failed", True),
        ("ERROR", "scheduler job needs-db failed again (2 runs in a row): ConnectionError: database unreachable",
         False),
        ("ERROR", "scheduler job needs-db failed again (3 runs in a row): ConnectionError: database unreachable",
         False),
        ("INFO", "scheduler job needs-db ran again after 3 failed runs", False),
    ]
