"""``scripts/mariadb``, which the test command uses to run its private MariaDB server. Its ``stop`` once
returned as soon as the socket was gone, while InnoDB was still writing its files: the test command's
``rm -rf`` of the directory then raced with the server and failed a CI run whose tests had all passed.
"""
import subprocess
from pathlib import Path

import pytest

from tests.conftest import database_is_mariadb

ROOT = Path(__file__).resolve().parents[2]


def server_running(pid: int) -> bool:
    """Whether the process is alive; a zombie waiting for its reaper has exited."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(database_is_mariadb(), reason="a server of its own; the SQLite pass runs it")
def test_stop_returns_only_once_the_server_has_exited(tmp_path):
    directory = tmp_path / "mariadb"
    subprocess.run([ROOT / "scripts/mariadb", "start", directory], check=True, capture_output=True)
    pid = int((directory / "mysqld.pid").read_text())
    try:
        # Enough dirty pages that InnoDB's shutdown outlasts the socket's removal.
        subprocess.run(["mariadb", "--no-defaults", f"--socket={directory}/mysqld.sock", "-uroot",
                        "smsplatform_test", "-e",
                        "CREATE TABLE filler (id INT AUTO_INCREMENT PRIMARY KEY, body TEXT);"
                        "INSERT INTO filler (body) SELECT REPEAT('x', 1000) FROM seq_1_to_100000;"],
                       check=True, capture_output=True)
        subprocess.run([ROOT / "scripts/mariadb", "stop", directory], check=True, capture_output=True, timeout=150)
        assert not server_running(pid)
        assert "Shutdown complete" in (directory / "error.log").read_text()
    finally:
        if server_running(pid):
            subprocess.run(["kill", "-9", str(pid)])
