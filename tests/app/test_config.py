"""Settings an operator gets wrong stop every process at start with one message naming each bad variable, instead
of a traceback, a silent default or a failure on first use (the Configuration reference in README.md)."""
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from smsplatform import config
from smsplatform.config import ConfigError, load_config, web_server_settings
from tests.conftest import database_is_mariadb

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ("DATABASE_URL", "PUBLIC_BASE_URL", "PORT", "HOST", "STORAGE_BACKEND", "S3_BUCKET", "WTF_CSRF_ENABLED",
            "MAX_REQUEST_BYTES", "MAX_BATCH_SIZE", "MAX_BODY_CHARS", "LIST_MAX_ROWS", "UNACKED_FAIL_SECONDS",
            "SILENT_PHONE_FAIL_SECONDS", "TRUSTED_PROXIES", "S3_PRESIGN_SECONDS", "AUTH_KNOWN_ADDRESS_DAYS",
            "SESSION_LIFETIME_SECONDS", "WEB_CONCURRENCY", "GUNICORN_WORKER_CONNECTIONS", "GUNICORN_TIMEOUT",
            "GUNICORN_GRACEFUL_TIMEOUT", "GUNICORN_LOG_LEVEL", "GUNICORN_WORKER_CLASS")


@pytest.fixture
def environment(monkeypatch, tmp_path):
    """The process environment with none of the settings above, no project .env, a scratch instance folder."""
    monkeypatch.setattr("smsplatform.config.load_dotenv", lambda *args, **kwargs: None)
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "x")
    return monkeypatch


@pytest.mark.parametrize("name, value, says", [
    ("MAX_BATCH_SIZE", "abc", "MAX_BATCH_SIZE='abc' is not a whole number"),
    ("MAX_BODY_CHARS", "", "MAX_BODY_CHARS is empty"),
    ("MAX_BODY_CHARS", "  ", "MAX_BODY_CHARS is empty"),
    ("UNACKED_FAIL_SECONDS", "-5", "UNACKED_FAIL_SECONDS=-5 is out of range: it takes 1 to"),
    ("LIST_MAX_ROWS", "0", "LIST_MAX_ROWS=0 is out of range"),
    ("TRUSTED_PROXIES", "1.5", "TRUSTED_PROXIES='1.5' is not a whole number"),
    ("SESSION_LIFETIME_SECONDS", "9" * 30, "SESSION_LIFETIME_SECONDS=999"),
    ("AUTH_KNOWN_ADDRESS_DAYS", "99999999", "AUTH_KNOWN_ADDRESS_DAYS=99999999 is out of range"),
    ("S3_PRESIGN_SECONDS", "604801", "S3_PRESIGN_SECONDS=604801 is out of range: it takes 1 to 604800"),
    # A typo must not switch CSRF protection off.
    ("WTF_CSRF_ENABLED", "flase", "WTF_CSRF_ENABLED='flase' is neither true nor false"),
    ("STORAGE_BACKEND", "s4", "STORAGE_BACKEND='s4' is not one of local, s3"),
    ("STORAGE_BACKEND", "s3", "S3_BUCKET must be set when STORAGE_BACKEND is s3"),
    ("PORT", "abc", "PORT='abc' is not a port number"),
    ("PORT", "70000", "PORT='70000' is not a port number"),
    ("PUBLIC_BASE_URL", "sms.example.com", "PUBLIC_BASE_URL='sms.example.com' must start with https://"),
    ("DATABASE_URL", "not-a-url-pw-s3cr3t", "DATABASE_URL is not a database URL"),
])
def test_a_bad_setting_is_refused_naming_it(environment, name, value, says):
    environment.setenv(name, value)
    with pytest.raises(ConfigError) as refused:
        load_config()
    assert says in refused.value.report()
    assert "s3cr3t" not in refused.value.report()  # a database URL may hold a password: never repeated


def test_every_bad_setting_is_named_at_once(environment):
    environment.setenv("MAX_BATCH_SIZE", "lots")
    environment.setenv("UPLOAD_MAX_BYTES", "-1")
    with pytest.raises(ConfigError) as refused:
        load_config()
    assert [problem.split("=")[0] for problem in refused.value.problems] == ["MAX_BATCH_SIZE", "UPLOAD_MAX_BYTES"]


def test_good_values_and_the_documented_zeros_are_taken(environment):
    for name, value in (("MAX_BATCH_SIZE", " 500 "), ("SILENT_PHONE_FAIL_SECONDS", "0"), ("TRUSTED_PROXIES", "0"),
                        ("AUTH_KNOWN_ADDRESS_DAYS", "0"), ("WTF_CSRF_ENABLED", "Off"), ("STORAGE_BACKEND", "S3"),
                        ("S3_BUCKET", "media"), ("PUBLIC_BASE_URL", "https://sms.example.com/")):
        environment.setenv(name, value)
    settings = load_config()
    assert (settings["MAX_BATCH_SIZE"], settings["SILENT_PHONE_FAIL_SECONDS"], settings["TRUSTED_PROXIES"],
            settings["AUTH_KNOWN_ADDRESS_DAYS"]) == (500, 0, 0, 0)
    assert settings["WTF_CSRF_ENABLED"] is False and settings["STORAGE_BACKEND"] == "s3"
    assert settings["PUBLIC_BASE_URL"] == "https://sms.example.com"


@pytest.mark.parametrize("name, value", [("WEB_CONCURRENCY", "0"), ("GUNICORN_WORKER_CONNECTIONS", "-1"),
                                         ("GUNICORN_TIMEOUT", "soon"), ("GUNICORN_GRACEFUL_TIMEOUT", ""),
                                         ("GUNICORN_LOG_LEVEL", "loud")])
def test_a_bad_web_server_setting_is_refused_naming_it(environment, name, value):
    environment.setenv(name, value)
    with pytest.raises(ConfigError) as refused:
        web_server_settings()
    assert refused.value.problems[0].startswith(name)


def _run(command: list[str], **settings) -> subprocess.CompletedProcess:
    environment = {**{k: v for k, v in os.environ.items() if k not in SETTINGS}, "SECRET_KEY": "x", **settings}
    return subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(database_is_mariadb(), reason="settings are read before any database is used")
@pytest.mark.parametrize("command", [
    [sys.executable, "-m", "flask", "--app", "wsgi", "devices", "list", "--email", "me@example.com"],
    [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")],  # stops before it binds or forks
    [sys.executable, "-m", "smsplatform.launcher"],  # starts neither child
    [sys.executable, "-m", "smsplatform.serve"],  # the web server alone: gunicorn never starts
])
def test_each_process_stops_at_start_with_the_message_and_no_traceback(tmp_path, command):
    finished = _run(command, INSTANCE_PATH=str(tmp_path), MAX_BATCH_SIZE="abc", WTF_CSRF_ENABLED="flase",
                    PORT="18999")
    assert finished.returncode != 0
    assert "smsplatform: cannot start, invalid settings (environment or .env):" in finished.stderr
    assert "MAX_BATCH_SIZE='abc'" in finished.stderr and "WTF_CSRF_ENABLED='flase'" in finished.stderr
    assert "Traceback" not in finished.stderr and "launcher: started" not in finished.stdout


@pytest.mark.skipif(database_is_mariadb(), reason="settings are read before any database is used")
def test_the_web_server_alone_names_a_worker_count_that_is_no_number(tmp_path):
    """gunicorn itself reads WEB_CONCURRENCY when it is imported, before gunicorn.conf.py: started directly, it
    stops with a traceback of its own. ``python -m smsplatform.serve`` names it first, as every other setting."""
    finished = _run([sys.executable, "-m", "smsplatform.serve"], INSTANCE_PATH=str(tmp_path), WEB_CONCURRENCY="abc",
                    PORT="18999")
    assert finished.returncode == 2
    assert finished.stderr.strip().splitlines() == [
        "smsplatform: cannot start, invalid settings (environment or .env):",
        "  WEB_CONCURRENCY='abc' is not a whole number: give a whole number from 1 to 2147483647, or leave it unset "
        "for the default (2)"]


@pytest.mark.skipif(database_is_mariadb(), reason="settings are read before any database is used")
def test_the_worker_class_is_taken_from_the_env_file_too(tmp_path, app, database_url):
    """gunicorn.conf.py chose the worker class (and gevent's monkey patching) before it read .env. Here a copy of
    it beside a .env of its own, as the project's gunicorn.conf.py reads the project's (on the suite's migrated
    database: the master checks the schema before it prints its configuration)."""
    shutil.copy(ROOT / "gunicorn.conf.py", tmp_path / "gunicorn.conf.py")
    (tmp_path / ".env").write_text("GUNICORN_WORKER_CLASS=sync\n")
    command = [sys.executable, "-m", "gunicorn", "-c", str(tmp_path / "gunicorn.conf.py"), "--print-config"]
    settings = {"INSTANCE_PATH": str(tmp_path), "PORT": "18999", "DATABASE_URL": database_url}
    printed = _run(command, **settings)
    defaulted = _run(command, **settings, GUNICORN_WORKER_CLASS="gevent")
    assert re.search(r"^worker_class += sync$", printed.stdout, re.MULTILINE), printed.stdout + printed.stderr
    assert re.search(r"^worker_class += smsplatform\.webserver\.GeventWorker$", defaulted.stdout, re.MULTILINE)


def _key_of(instance: str, start, keys) -> None:
    start.wait()
    keys.put(config._dev_secret_key(Path(instance)))


def test_processes_starting_at_once_share_one_generated_secret_key(tmp_path):
    """gunicorn's workers and the scheduler start together on a fresh instance folder: each must read the
    one key, never an empty or half-written file, or sessions and gettoken tokens differ between them."""
    context = multiprocessing.get_context("fork")
    for attempt in range(25):
        instance = tmp_path / str(attempt)
        start, keys = context.Barrier(6), context.Queue()
        processes = [context.Process(target=_key_of, args=(str(instance), start, keys)) for _ in range(6)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(30)
        seen = {keys.get(timeout=5) for _ in processes}
        assert len(seen) == 1 and "" not in seen, f"attempt {attempt}: keys {seen}"
        assert (instance / "secret_key").read_text() in seen
        assert (instance / "secret_key").stat().st_mode & 0o077 == 0  # the owner's only
        assert [path.name for path in instance.iterdir()] == ["secret_key"]  # no temporary file left


def test_an_empty_key_file_is_refused_not_used(tmp_path):
    (tmp_path / "secret_key").write_text("")
    with pytest.raises(ConfigError, match="secret_key is empty: delete it"):
        config._dev_secret_key(tmp_path)


@pytest.mark.parametrize("host, bind", [("127.0.0.1", "127.0.0.1:8123"), ("0.0.0.0", "0.0.0.0:8123"),
                                        ("::1", "[::1]:8123"), ("::", "[::]:8123"), ("[::1]", "[::1]:8123"),
                                        ("sms.lan", "sms.lan:8123")])
def test_the_web_server_binds_an_ipv6_host_in_brackets(environment, host, bind):
    """gunicorn reads ``::1:8123`` as a port it cannot parse ("'' is not a valid port number") and does not start."""
    environment.setenv("HOST", host)
    environment.setenv("PORT", "8123")
    assert web_server_settings()["bind"] == bind
