"""The one-command launcher: the web server (gunicorn, gevent workers) and the scheduler, supervised.

``python -m smsplatform.launcher`` (``scripts/run`` sets up the venv and the database, then runs this).
A child that dies is restarted after a pause; Ctrl-C, SIGTERM or SIGHUP (the terminal closed) stops both,
and on Linux a launcher killed outright takes them with it (SIGTERM from the kernel), so no server is left
holding the port. A child that cannot stay up (it dies within seconds of every start, e.g. a missing
package) stops the launcher with an error instead of being restarted forever. Bad settings stop it before
anything starts, naming each one, and so does a database whose schema is not this code's (``scripts/run``
upgrades it first).
"""
import ctypes
import errno
import os
import signal
import socket
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1
# Linux's prctl, looked up once here: the child calls it between fork and exec, where little is safe to do.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
RESTART_PAUSE_SECONDS = 2.0
STOP_TIMEOUT_SECONDS = 10.0
QUICK_EXIT_SECONDS = 10.0  # a child that dies sooner than this after starting did not come up
QUICK_EXITS_ALLOWED = 5  # ...in a row, before the launcher gives up


def commands(python: str = sys.executable) -> dict[str, list[str]]:
    return {
        "web": [python, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")],
        "scheduler": [python, "-m", "flask", "--app", "wsgi", "scheduler", "run"],
    }


class Supervisor:
    def __init__(self, programs: dict[str, list[str]], cwd: Path = ROOT):
        self.programs = programs
        self.cwd = cwd
        self.children: dict[str, subprocess.Popen] = {}
        self.started_at: dict[str, float] = {}
        self.quick_exits: dict[str, int] = {name: 0 for name in programs}
        self.stopping = False
        self.failed = False

    def start(self, name: str) -> None:
        # Own session: Ctrl-C reaches only the launcher, which then stops the children in order.
        self.children[name] = subprocess.Popen(self.programs[name], cwd=self.cwd, start_new_session=True,
                                               preexec_fn=partial(_terminated_with_parent, os.getpid()))
        self.started_at[name] = time.monotonic()
        print(f"launcher: started {name} (pid {self.children[name].pid})", flush=True)

    def stop_all(self, *_args) -> None:
        self.stopping = True

    def run(self) -> int:
        for number in STOP_SIGNALS:
            signal.signal(number, self.stop_all)
        for name in self.programs:
            self.start(name)
        while not self.stopping:
            time.sleep(0.2)
            for name, child in list(self.children.items()):
                code = child.poll()
                if code is not None and not self.stopping:
                    self._restart(name, code)
        return self.shutdown()

    def _restart(self, name: str, code: int) -> None:
        quick = time.monotonic() - self.started_at[name] < QUICK_EXIT_SECONDS
        self.quick_exits[name] = self.quick_exits[name] + 1 if quick else 0
        if self.quick_exits[name] >= QUICK_EXITS_ALLOWED:
            print(f"launcher: {name} exited with {code} within {QUICK_EXIT_SECONDS:.0f} s of each of its last "
                  f"{QUICK_EXITS_ALLOWED} starts; giving up (its error is above)", flush=True)
            self.failed = self.stopping = True
            return
        print(f"launcher: {name} exited with {code}; restarting in {RESTART_PAUSE_SECONDS:.0f} s", flush=True)
        time.sleep(RESTART_PAUSE_SECONDS)
        if not self.stopping:
            self.start(name)

    def shutdown(self) -> int:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for name, child in self.children.items():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"launcher: {name} did not stop; killing it", flush=True)
                child.kill()
                child.wait()
        print("launcher: stopped", flush=True)
        return 1 if self.failed else 0


def _terminated_with_parent(launcher: int) -> None:
    """In the child, before it runs its program: SIGTERM when the launcher dies, however it dies (Linux)."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))
        if os.getppid() != launcher:  # the launcher died before the request was made: do not start at all
            os._exit(1)


def check_settings() -> str | None:
    """The problem report of bad settings (the web server's and the app's), or None when they are usable."""
    from smsplatform.config import ConfigError, load_config, web_server_settings

    try:
        web_server_settings()
        load_config()
    except ConfigError as error:
        return error.report()
    return None


def check_schema() -> str | None:
    """The report of a database whose schema is not this code's (smsplatform.schema_check), or None: said once
    here instead of by each child as it fails to start, again and again."""
    from smsplatform.config import load_config
    from smsplatform.schema_check import SchemaMismatch, require_current_schema

    try:
        require_current_schema(load_config()["SQLALCHEMY_DATABASE_URI"])
    except SchemaMismatch as mismatch:
        return mismatch.report()
    return None


def address_in_use(host: str, port: str) -> bool:
    """Whether something (another ``scripts/run``, say) already listens where the web server is to bind: gunicorn
    would try five times before it gave up, and the launcher restart it five times, some 40 s of errors with a
    second scheduler running meanwhile."""
    try:
        family, kind, protocol, _name, address = socket.getaddrinfo(host.strip("[]"), int(port),
                                                                    type=socket.SOCK_STREAM)[0]
    except (OSError, ValueError):
        return False  # gunicorn says what is wrong with the address
    with socket.socket(family, kind, protocol) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds: TIME_WAIT is no obstacle
        try:
            probe.bind(address)
        except OSError as error:
            return error.errno == errno.EADDRINUSE
    return False


def main() -> int:
    os.chdir(ROOT)
    problems = check_settings()
    if problems:
        print(problems, file=sys.stderr, flush=True)
        return 2
    from smsplatform.config import listen_address

    host, port = listen_address()
    if address_in_use(host, port):
        print(f"launcher: {host}:{port} is in use (is the platform already running?): stop that first, or set "
              "PORT (or HOST) for this one", file=sys.stderr, flush=True)
        return 1
    problem = check_schema()
    if problem:
        print(problem, file=sys.stderr, flush=True)
        return 2
    return Supervisor(commands()).run()


if __name__ == "__main__":
    sys.exit(main())
