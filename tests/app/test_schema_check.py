"""A process started on a database whose schema is older or newer than this code's migrations stops at start with
one message saying what to run, instead of failing later on a missing column; ``flask db upgrade`` itself runs."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from smsplatform.extensions import db
from smsplatform.schema_check import MIGRATIONS, schema_problem
from tests.app.test_config import SETTINGS
from tests.conftest import database_is_mariadb
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
HEAD = ScriptDirectory(str(MIGRATIONS)).get_current_head()
PREVIOUS = ScriptDirectory(str(MIGRATIONS)).get_revision(HEAD).down_revision
UNKNOWN = "0123456789ab"  # a revision of some newer code
UPGRADE = "run `flask --app wsgi db upgrade`"
FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]


@pytest.mark.parametrize("change, says", [
    (None, None),
    (f"UPDATE alembic_version SET version_num = '{PREVIOUS}'",
     f"the database schema is at revision {PREVIOUS} but this code needs {HEAD}: {UPGRADE}"),
    (f"UPDATE alembic_version SET version_num = '{UNKNOWN}'",
     f"the database schema is at revision {UNKNOWN}, which this code does not know: this code is older than the "
     f"database"),
    ("DELETE FROM alembic_version",
     f"the database has no schema yet (no alembic_version) but this code needs revision {HEAD}: {UPGRADE}"),
])
def test_the_databases_revision_is_read_and_compared_with_the_code(app, change, says):
    with db.engine.connect() as connection:
        if change:
            connection.execute(text(change))
        problem = schema_problem(connection)
        connection.rollback()  # the suite's database stays at the head
    assert problem == says if says is None else problem.startswith(says)


# The entry points, as an operator starts them by hand.
def _plain_gunicorn(tmp_path: Path, port: int) -> list[str]:
    """``wsgi.py`` under a server configured otherwise (not by gunicorn.conf.py)."""
    config = tmp_path / "other_server.py"
    config.write_text("control_socket_disable = True\n")
    return [sys.executable, "-m", "gunicorn", "-c", str(config), "--bind", f"127.0.0.1:{port}", "wsgi:app"]


ENTRY_POINTS = {
    "gunicorn": lambda tmp_path, port: [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")],
    "wsgi.py under another server": _plain_gunicorn,
    "scheduler": lambda tmp_path, port: [*FLASK, "scheduler", "run"],
    "launcher": lambda tmp_path, port: [sys.executable, "-m", "smsplatform.launcher"],
    "devices CLI": lambda tmp_path, port: [*FLASK, "devices", "list", "--email", "me@example.com"],
}


def _environment(database: Path, instance: Path, port: int | None = None) -> dict:
    instance.mkdir(parents=True, exist_ok=True)
    return {**{name: value for name, value in os.environ.items() if name not in SETTINGS},
            "DATABASE_URL": f"sqlite:///{database}", "INSTANCE_PATH": str(instance), "SECRET_KEY": "x",
            "EVENTS_SOCKET_DIR": str(instance / "events"), "HOST": "127.0.0.1", "PORT": str(port or free_port()),
            "WEB_CONCURRENCY": "1"}


def _run(command: list[str], environment: dict, stdin: str | None = None) -> subprocess.CompletedProcess:
    # The timeout only keeps a process that failed to stop (the old code served on) from hanging the run.
    return subprocess.run(command, cwd=ROOT, env=environment, input=stdin, capture_output=True, text=True,
                          timeout=90)


@pytest.fixture(scope="module")
def old_database(tmp_path_factory) -> Path:
    """A SQLite database one migration behind this code, made by the real ``flask db upgrade <revision>``."""
    folder = tmp_path_factory.mktemp("old")
    made = _run([*FLASK, "db", "upgrade", PREVIOUS], _environment(folder / "old.db", folder / "instance"))
    assert made.returncode == 0, made.stderr
    return folder / "old.db"


skip_on_mariadb = pytest.mark.skipif(database_is_mariadb(), reason="the entry points are what these test, on a "
                                     "scratch SQLite file; the revision read is tested on both databases above")


@skip_on_mariadb
@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_each_entry_point_stops_on_an_older_schema_with_the_upgrade_to_run(old_database, tmp_path, entry_point):
    port = free_port()
    finished = _run(ENTRY_POINTS[entry_point](tmp_path, port), _environment(old_database, tmp_path / "i", port))
    assert finished.returncode != 0, finished.stdout + finished.stderr
    assert (f"smsplatform: cannot start: the database schema is at revision {PREVIOUS} but this code needs {HEAD}: "
            f"{UPGRADE}") in finished.stderr
    assert "Traceback" not in finished.stderr and "launcher: started" not in finished.stdout
    assert "Booting worker" not in finished.stderr or entry_point == "wsgi.py under another server"


@skip_on_mariadb
def test_db_upgrade_runs_on_the_older_schema_and_then_the_cli_works(old_database, tmp_path):
    database = shutil.copy(old_database, tmp_path / "db.sqlite")
    environment = _environment(database, tmp_path / "instance")
    create = [*FLASK, "accounts", "create", "--email", "ops@example.com", "--password-stdin"]
    refused = _run(create, environment, stdin="s3cret-pass\n")
    assert refused.returncode == 1 and UPGRADE in refused.stderr and not refused.stdout

    upgraded = _run([*FLASK, "db", "upgrade"], environment)
    assert upgraded.returncode == 0, upgraded.stderr
    created = _run(create, environment, stdin="s3cret-pass\n")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["email"] == "ops@example.com"


@skip_on_mariadb
def test_an_empty_database_gets_the_same_advice(tmp_path):
    finished = _run([*FLASK, "accounts", "create", "--email", "ops@example.com", "--password-stdin"],
                    _environment(tmp_path / "new.db", tmp_path / "instance"), stdin="s3cret-pass\n")
    assert finished.returncode == 1
    assert finished.stderr.strip() == (f"smsplatform: cannot start: the database has no schema yet (no "
                                       f"alembic_version) but this code needs revision {HEAD}: {UPGRADE}")


@skip_on_mariadb
def test_a_newer_schema_says_the_code_is_older(old_database, tmp_path):
    database = shutil.copy(old_database, tmp_path / "db.sqlite")
    with closing(sqlite3.connect(database)) as connection, connection:
        connection.execute("UPDATE alembic_version SET version_num = ?", (UNKNOWN,))
    finished = _run([*FLASK, "devices", "list", "--email", "me@example.com"],
                    _environment(database, tmp_path / "instance"))
    assert finished.returncode == 1
    assert (f"smsplatform: cannot start: the database schema is at revision {UNKNOWN}, which this code does not "
            f"know: this code is older than the database") in finished.stderr
