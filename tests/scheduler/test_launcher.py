"""The one-command launcher: gunicorn (gevent) + scheduler, a crashed child restarted, SIGTERM stops both."""
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from smsplatform import launcher
from tests.conftest import database_is_mariadb
from tests.support.servers import free_port, wait_http

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is not alive
        return stat.read().split()[2] != "Z"


def _started(output: list[str], name: str) -> list[int]:
    return [int(m.group(1)) for line in output for m in [re.search(rf"started {name} \(pid (\d+)\)", line)] if m]


@pytest.mark.skipif(database_is_mariadb(), reason="process supervision does not depend on the database")
def test_launcher_runs_both_restarts_a_crash_and_stops_both(tmp_path, _schema, base_config):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": base_config["SQLALCHEMY_DATABASE_URI"], "INSTANCE_PATH": str(tmp_path),
           "SECRET_KEY": "x", "PORT": str(port), "WEB_CONCURRENCY": "1", "EVENTS_SOCKET_DIR": str(tmp_path / "ev")}
    launcher = subprocess.Popen([sys.executable, "-m", "smsplatform.launcher"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    try:
        wait_http(f"http://127.0.0.1:{port}/api/mobile/v1/device", launcher, 60, status=200)
        while len(_started(output, "scheduler")) < 1 or len(_started(output, "web")) < 1:
            output.append(launcher.stdout.readline())
        web_pid, scheduler_pid = _started(output, "web")[0], _started(output, "scheduler")[0]

        os.kill(scheduler_pid, signal.SIGKILL)  # a crash: the launcher starts a new scheduler
        while len(_started(output, "scheduler")) < 2:
            line = launcher.stdout.readline()
            assert line, "launcher exited"
            output.append(line)
        restarted = _started(output, "scheduler")[1]
        assert restarted != scheduler_pid and _alive(restarted)

        launcher.send_signal(signal.SIGTERM)
        rest, _ = launcher.communicate(timeout=30)
        output.append(rest)
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
    assert launcher.returncode == 0, "".join(output)
    assert "launcher: stopped" in "".join(output)
    assert not _alive(web_pid) and not _alive(restarted)


@pytest.fixture
def supervisor_signals():
    """``Supervisor.run`` takes SIGINT and SIGTERM; give them back to pytest afterwards."""
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


def test_a_child_that_never_comes_up_stops_the_launcher_with_an_error(monkeypatch, capsys, supervisor_signals):
    monkeypatch.setattr(launcher, "RESTART_PAUSE_SECONDS", 0)
    supervisor = launcher.Supervisor({
        "web": [sys.executable, "-c", "raise SystemExit(3)"],  # as gunicorn without its worker's packages
        "scheduler": [sys.executable, "-c", "import time; time.sleep(60)"],
    })
    assert supervisor.run() == 1
    output = capsys.readouterr().out
    assert len(_started(output.splitlines(), "web")) == launcher.QUICK_EXITS_ALLOWED
    assert f"web exited with 3 within 10 s of each of its last {launcher.QUICK_EXITS_ALLOWED} starts; giving up" in output
    scheduler = supervisor.children["scheduler"]
    assert scheduler.poll() is not None and not _alive(scheduler.pid)  # stopped with the launcher


def test_a_child_that_ran_a_while_is_restarted_without_counting_its_earlier_quick_exits(monkeypatch, capsys,
                                                                                        supervisor_signals):
    monkeypatch.setattr(launcher, "RESTART_PAUSE_SECONDS", 0)
    monkeypatch.setattr(launcher, "QUICK_EXIT_SECONDS", 0.5)
    monkeypatch.setattr(launcher, "QUICK_EXITS_ALLOWED", 2)
    supervisor = launcher.Supervisor({"web": [sys.executable, "-c", "import time; time.sleep(0.8)"]})
    starts = 0

    def stop_after_four_starts(name):
        nonlocal starts
        starts += 1
        if starts == 4:
            supervisor.stop_all()
        launcher.Supervisor.start(supervisor, name)

    monkeypatch.setattr(supervisor, "start", stop_after_four_starts)
    assert supervisor.run() == 0
    assert "giving up" not in capsys.readouterr().out and starts == 4
