"""The one-command launcher: gunicorn (gevent) + scheduler, a crashed child restarted, SIGTERM stops both."""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
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
    """``Supervisor.run`` takes SIGINT, SIGTERM and SIGHUP; give them back to pytest afterwards."""
    saved = {number: signal.getsignal(number) for number in launcher.STOP_SIGNALS}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


def run_guarded(supervisor: launcher.Supervisor, seconds: float = 60) -> int:
    """``supervisor.run()``, stopped after ``seconds`` should it never end by itself (which a test then sees:
    a stopped launcher returns 0, not the 1 of giving up)."""
    guard = threading.Timer(seconds, supervisor.stop_all)
    guard.start()
    try:
        return supervisor.run()
    finally:
        guard.cancel()


def test_a_child_that_never_comes_up_stops_the_launcher_with_an_error(monkeypatch, capsys, supervisor_signals):
    monkeypatch.setattr(launcher, "RESTART_PAUSE_SECONDS", 0)
    supervisor = launcher.Supervisor({
        "web": [sys.executable, "-c", "raise SystemExit(3)"],  # as gunicorn without its worker's packages
        "scheduler": [sys.executable, "-c", "import time; time.sleep(60)"],
    })
    assert run_guarded(supervisor) == 1
    output = capsys.readouterr().out
    assert len(_started(output.splitlines(), "web")) == launcher.QUICK_EXITS_ALLOWED
    assert (f"web exited with 3 within {launcher.QUICK_EXIT_SECONDS:.0f} s of each of its last "
            f"{launcher.QUICK_EXITS_ALLOWED} starts; giving up") in output
    scheduler = supervisor.children["scheduler"]
    assert scheduler.poll() is not None and not _alive(scheduler.pid)  # stopped with the launcher


# Odd starts exit at once, even ones after 0.8 s: with two quick exits allowed, only a count that a slow
# exit resets keeps the launcher going.
QUICK_THEN_SLOW = """import pathlib, sys, time
counter = pathlib.Path(sys.argv[1])
starts = int(counter.read_text()) + 1 if counter.exists() else 1
counter.write_text(str(starts))
time.sleep(0 if starts % 2 else 1.8)
"""


def test_a_slow_exit_resets_the_count_of_quick_ones(monkeypatch, capsys, supervisor_signals, tmp_path):
    monkeypatch.setattr(launcher, "RESTART_PAUSE_SECONDS", 0)
    # A quick start is a Python process that exits at once: on a loaded machine that alone took over 0.5 s.
    monkeypatch.setattr(launcher, "QUICK_EXIT_SECONDS", 1.5)
    monkeypatch.setattr(launcher, "QUICK_EXITS_ALLOWED", 2)
    counter = tmp_path / "starts"
    supervisor = launcher.Supervisor({"web": [sys.executable, "-c", QUICK_THEN_SLOW, str(counter)]})

    counted = []  # the run of quick exits at each restart

    def stop_at_the_fifth_start(name):
        counted.append(supervisor.quick_exits[name])
        if counter.exists() and int(counter.read_text()) == 4:
            supervisor.stop_all()
        launcher.Supervisor.start(supervisor, name)

    monkeypatch.setattr(supervisor, "start", stop_at_the_fifth_start)
    assert run_guarded(supervisor) == 0
    assert "giving up" not in capsys.readouterr().out and int(counter.read_text()) >= 4
    assert counted[1:5] == [1, 0, 1, 0]  # the odd starts did count as quick (a slow machine would hide the reset)


# A launcher of two children that only wait, as a process of its own: what a terminal or a service manager sees.
SUPERVISED_SLEEPERS = """import sys
from smsplatform.launcher import Supervisor
sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
sys.exit(Supervisor({"web": sleeper, "scheduler": sleeper}).run())
"""


def _start_supervised_sleepers() -> tuple[subprocess.Popen, list[int]]:
    process = subprocess.Popen([sys.executable, "-c", SUPERVISED_SLEEPERS], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    while len(_started(output, "web")) < 1 or len(_started(output, "scheduler")) < 1:
        line = process.stdout.readline()
        assert line, "".join(output)
        output.append(line)
    return process, [_started(output, "web")[0], _started(output, "scheduler")[0]]


def _gone_within(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not any(_alive(pid) for pid in pids)


@pytest.mark.skipif(database_is_mariadb(), reason="process supervision does not depend on the database")
def test_closing_the_terminal_sighup_stops_both_children():
    process, children = _start_supervised_sleepers()
    try:
        process.send_signal(signal.SIGHUP)  # the terminal scripts/run ran in was closed
        rest, _ = process.communicate(timeout=30)
    finally:
        for pid in children:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0 and "launcher: stopped" in rest
    assert _gone_within(children, 5), "the children outlived the launcher"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
@pytest.mark.skipif(database_is_mariadb(), reason="process supervision does not depend on the database")
def test_a_launcher_killed_outright_takes_its_children_with_it():
    process, children = _start_supervised_sleepers()
    try:
        process.kill()  # SIGKILL: no handler runs (the OOM killer, kill -9)
        process.wait()
        assert _gone_within(children, 10), "the children outlived the launcher"
    finally:
        for pid in children:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(database_is_mariadb(), reason="process supervision does not depend on the database")
def test_a_second_launcher_on_a_port_in_use_stops_at_once_starting_nothing(tmp_path):
    """Started twice on one port, the second launcher said so only after some 40 s: five gunicorn starts of five
    bind attempts each, its scheduler running beside the first one's meanwhile."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        env = {**os.environ, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x", "HOST": "127.0.0.1", "PORT": str(port),
               "EVENTS_SOCKET_DIR": str(tmp_path / "ev")}
        env.pop("DATABASE_URL", None)
        started = time.monotonic()
        finished = subprocess.run([sys.executable, "-m", "smsplatform.launcher"], cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=60)
    assert finished.returncode == 1, finished.stdout + finished.stderr
    assert f"launcher: 127.0.0.1:{port} is in use (is the platform already running?)" in finished.stderr
    assert "started" not in finished.stdout and time.monotonic() - started < 15
