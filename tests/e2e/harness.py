"""Real processes for end-to-end tests and benchmarks: gunicorn servers, scheduler processes, simulated phones.

Everything listens on 127.0.0.1 on free ports and is stopped (by pid) when the platform is stopped.
"""
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests
from sqlalchemy import create_engine, make_url, text

from tests.support.servers import free_port, wait_http

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def fresh_database(test_database_url: str | None, workdir: Path, name: str = "smsplatform_e2e"):
    """A new, empty database: a SQLite file, or a separate database on the test MariaDB server."""
    if not test_database_url or not test_database_url.startswith("mysql"):
        yield f"sqlite:///{workdir / (name + '.db')}"
        return
    url = make_url(test_database_url)
    database = f"{name}_{os.getpid()}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {database}"))
        connection.execute(text(f"CREATE DATABASE {database} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    try:
        yield url.set(database=database).render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {database}"))
        admin.dispose()


class Platform:
    def __init__(self, workdir: Path, database_url: str, *, env: dict | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.database_url = database_url
        self.web: list[tuple[subprocess.Popen, str]] = []
        self.schedulers: list[subprocess.Popen] = []
        self.phones: dict[str, subprocess.Popen] = {}
        self.logs: list[str] = []  # the log of each process started, by name: web-<port>, scheduler-<n>, phone-<name>
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "REDIS_URL"},
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(self.workdir / "instance"),
            "SECRET_KEY": "e2e-secret",
            "EVENTS_SOCKET_DIR": str(self.workdir / "events"),
            "UPLOAD_DIR": str(self.workdir / "uploads"),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }

    # -- commands ---------------------------------------------------------------------------------
    def flask(self, *args, env: dict | None = None, check=True) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,
                              env={**self.env, **(env or {})}, capture_output=True, text=True, check=check,
                              timeout=120)

    def cli_json(self, *args) -> dict:
        result = self.flask(*args)
        return json.loads(result.stdout.strip().splitlines()[-1])

    def pairing_codes(self, email: str, count: int) -> list[str]:
        """``flask devices pairing-code`` run ``count`` times at once (each CLI start loads the app)."""
        processes = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "devices", "pairing-code",
                                       "--email", email], cwd=ROOT, env=self.env, stdout=subprocess.PIPE, text=True)
                     for _ in range(count)]
        return [json.loads(p.communicate(timeout=120)[0].strip().splitlines()[-1])["code"] for p in processes]

    def migrate(self) -> None:
        self.flask("db", "upgrade")

    # -- processes --------------------------------------------------------------------------------
    def _spawn(self, args: list[str], log_name: str, env: dict | None = None) -> subprocess.Popen:
        """A process writing its output to ``<log_name>.log`` in the work directory (the child keeps
        the file open; this process closes its own handle at once)."""
        if log_name not in self.logs:
            self.logs.append(log_name)
        with (self.workdir / f"{log_name}.log").open("ab") as log:
            return subprocess.Popen(args, cwd=ROOT, env=env or self.env, stdout=log, stderr=subprocess.STDOUT)

    def log_tails(self, chars: int = 4000) -> dict[str, str]:
        """The end of every started process's log, by name: what a failed test reports."""
        return {name: (self.workdir / f"{name}.log").read_text(errors="replace")[-chars:] for name in self.logs}

    @property
    def url(self) -> str:
        """The first web server's address."""
        return self.web[0][1]

    def start_web(self, workers: int = 2, accesslog: bool = False, port: int | None = None) -> str:
        """A gunicorn server on ``port`` (a free one unless given: a ``PUBLIC_BASE_URL`` set in ``env``
        at construction names it in advance); returns its address once it answers."""
        port = port or free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**self.env, "PORT": str(port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": str(workers),
               "DATABASE_URL": self.database_url, "PUBLIC_BASE_URL": self.env.get(
                   "PUBLIC_BASE_URL", base)}
        if accesslog:
            env["GUNICORN_ACCESS_LOG"] = str(self.workdir / f"access-{port}.log")
        process = self._spawn([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")],
                              f"web-{port}", env)
        self.web.append((process, base))
        wait_http(base + "/api/mobile/v1/device", process, log=self.workdir / f"web-{port}.log")
        return base

    def start_scheduler(self) -> subprocess.Popen:
        process = self._spawn([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"],
                              f"scheduler-{len(self.schedulers)}")
        self.schedulers.append(process)
        return process

    def start_phone(self, name: str, server: str, code: str | None, *extra: str, via_flask: bool = False,
                    poll_seconds: float = 5) -> subprocess.Popen:
        """A simulated phone; ``via_flask`` runs it as ``flask phone simulate`` (else without loading the app)."""
        command = ["-m", "flask", "--app", "wsgi", "phone"] if via_flask else ["-m", "smsplatform.phone_sim"]
        args = [sys.executable, *command, "simulate", "--server",
                f"{server}/api/mobile/v1", "--name", name, "--state", str(self.workdir / f"{name}.json"),
                "--log", str(self.workdir / f"{name}.sent"), "--poll-seconds", str(poll_seconds), *extra]
        if code:
            args += ["--code", code]
        process = self._spawn(args, f"phone-{name}")
        self.phones[name] = process
        return process

    def stop_phone(self, name: str) -> None:
        """The phone ``name`` switched off (its state file stays: ``start_phone`` without a code resumes it)."""
        process = self.phones[name]
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def phone_device_id(self, name: str, timeout: float = 30) -> int:
        state = self.workdir / f"{name}.json"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if state.exists():
                return int(json.loads(state.read_text())["device_id"])
            if self.phones[name].poll() is not None:
                raise RuntimeError(f"phone {name} exited: {(self.workdir / f'phone-{name}.log').read_text()}")
            time.sleep(0.1)
        raise TimeoutError(f"phone {name} did not pair")

    def sent_lines(self, name: str) -> list[list[str]]:
        path = self.workdir / f"{name}.sent"
        if not path.exists():
            return []
        return [line.split() for line in path.read_text().split("\n")[:-1] if line.startswith("sent ")]

    def stop(self) -> None:
        processes = [p for p in self.phones.values()] + self.schedulers + [p for p, _ in self.web]
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def submit_batch(server: str, token: str, items: list[dict], attempts: int = 3) -> list[int]:
    """The legacy batch call, as an integration sends it (``datajson`` form field).

    A batch the server answers "not saved" (e.g. a MariaDB deadlock victim, rolled back whole) is
    sent again, as an integration would; any other refusal is an error.
    """
    for attempt in range(attempts):
        response = requests.post(f"{server}/getdata/addalotofsms",
                                 data={"datajson": json.dumps({"token": token, "smsdata": items})}, timeout=120)
        body = response.json()
        if body.get("error") == 0:
            return body.get("sms_ids", [])
        if "not saved" not in body.get("message", "") or attempt == attempts - 1:
            raise RuntimeError(f"addalotofsms refused the batch: {body.get('message')}")
        time.sleep(0.5)
