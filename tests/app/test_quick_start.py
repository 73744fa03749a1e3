"""The README's first Quick start command, as a new operator runs it: ``scripts/run`` in a fresh copy of
the project, which builds its own virtualenv from ``requirements.txt`` alone (the tests' virtualenv has
more packages, so a runtime package missing from it went unnoticed: gunicorn's gevent worker could not
start), migrates a new SQLite database and serves until Ctrl-C.
"""
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import database_is_mariadb
from tests.support.servers import free_port, wait_http

ROOT = Path(__file__).resolve().parents[2]
# What the tests' own environment may carry that a new operator's shell does not.
NOT_INHERITED = {"HOST", "DATABASE_URL", "TEST_DATABASE_URL", "INSTANCE_PATH", "PUBLIC_BASE_URL", "SECRET_KEY",
                 "VIRTUAL_ENV", "PYTHONPATH", "EVENTS_SOCKET_DIR", "UPLOAD_DIR", "STORAGE_BACKEND", "REDIS_URL"}


def fresh_copy(target: Path) -> Path:
    """The project's files as a clone has them (tracked, plus new files not ignored), without .venv,
    instance/ or uploads/."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not copied
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.mark.skipif(database_is_mariadb(), reason="the Quick start runs on SQLite; the SQLite pass runs it")
def test_scripts_run_serves_from_a_fresh_copy_and_stops_on_ctrl_c(tmp_path):
    project = fresh_copy(tmp_path / "smsplatform")
    port = free_port()
    path = os.pathsep.join(part for part in os.environ["PATH"].split(os.pathsep)
                           if not part.startswith(str(ROOT / ".venv")))
    env = {**{k: v for k, v in os.environ.items() if k not in NOT_INHERITED}, "PATH": path, "PORT": str(port)}
    log = tmp_path / "run.log"
    with log.open("w") as output:
        run = subprocess.Popen(["scripts/run"], cwd=project, env=env, stdout=output, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        login = wait_http(f"http://127.0.0.1:{port}/login", run, timeout=600, log=log, status=200)
        assert "Log in" in login.text
        phone_api = wait_http(f"http://127.0.0.1:{port}/api/mobile/v1/device", run, timeout=10, log=log)
        assert phone_api.headers["Content-Type"].startswith("application/json")
        assert (project / ".venv/bin/python").exists() and (project / "instance/smsplatform.db").exists()
        run.send_signal(signal.SIGINT)  # the launcher is scripts/run's own process (exec)
        assert run.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        if run.poll() is None:  # the launcher stops its children (each in a session of its own) on SIGINT
            run.send_signal(signal.SIGINT)
            try:
                run.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(run.pid, signal.SIGKILL)
                run.wait()
    text = log.read_text()
    assert "launcher: started web" in text and "launcher: started scheduler" in text
    assert "exited with" not in text and "Traceback" not in text, text[-3000:]
    assert text.rstrip().endswith("launcher: stopped"), text[-3000:]
