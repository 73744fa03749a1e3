"""App-wide behaviour: JSON errors for API clients, proxy headers only when trusted, the database driver."""
import subprocess
import sys
from pathlib import Path

import pytest

from smsplatform import create_app
from smsplatform.config import cooperative_database_url, listen_address, load_config


def test_unknown_api_path_answers_json_not_html(client):
    response = client.get("/api/mobile/v1/no-such-endpoint")
    assert response.status_code == 404
    assert response.is_json
    assert response.get_json()["code"] == 404


def test_wrong_method_on_api_path_answers_json_and_says_which_methods_are_allowed(client):
    response = client.delete("/api/mobile/v1/settings")
    assert response.status_code == 405
    assert response.is_json
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_forwarded_address_ignored_without_trusted_proxies(client):
    response = client.get("/api/mobile/v1/device", headers={"X-Forwarded-For": "203.0.113.7"})
    assert response.get_json()["externalIp"] == "127.0.0.1"


def test_forwarded_address_used_with_one_trusted_proxy(base_config, _schema):
    app = create_app({**base_config, "TRUSTED_PROXIES": 1})
    response = app.test_client().get("/api/mobile/v1/device", headers={"X-Forwarded-For": "203.0.113.7"})
    assert response.get_json()["externalIp"] == "203.0.113.7"


def test_mariadb_urls_use_the_cooperative_driver_under_gevent_only():
    url = "mysql+mysqldb://user:secret@localhost/sms?charset=utf8mb4"
    assert cooperative_database_url(url) == url  # pytest is not monkey-patched: the URL as given
    script = ("from gevent import monkey; monkey.patch_all()\n"
              "from smsplatform.config import cooperative_database_url as url\n"
              f"print(url({url!r})); print(url('mariadb://u@h/d')); print(url('sqlite:///x.db'))")
    printed = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2],
                             capture_output=True, text=True, check=True).stdout.split()
    assert printed == ["mysql+pymysql://user:secret@localhost/sms?charset=utf8mb4", "mariadb+pymysql://u@h/d",
                       "sqlite:///x.db"]


@pytest.mark.parametrize("url", ["mysql+mysqldb://u@localhost/sms", "mariadb+pymysql://u@localhost/sms",
                                 "mariadb://u@localhost/sms"])
def test_every_mariadb_url_spelling_runs_at_read_committed(url, tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(tmp_path)})  # nothing connects yet
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["isolation_level"] == "READ COMMITTED"


@pytest.mark.parametrize("host, port, expected", [
    (None, None, "http://127.0.0.1:8000"),
    ("127.0.0.1", "8765", "http://127.0.0.1:8765"),
    ("0.0.0.0", "9000", "http://127.0.0.1:9000"),  # every interface: reached on loopback from this machine
    ("::1", "9000", "http://[::1]:9000"),
    ("sms.lan", None, "http://sms.lan:8000"),
])
def test_the_public_address_follows_host_and_port_unless_set(monkeypatch, tmp_path, host, port, expected):
    monkeypatch.setattr("smsplatform.config.load_dotenv", lambda *args, **kwargs: None)  # not the project's .env
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "x")
    for name, value in (("HOST", host), ("PORT", port)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    assert load_config()["PUBLIC_BASE_URL"] == expected
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://sms.example.com/")
    assert load_config()["PUBLIC_BASE_URL"] == "https://sms.example.com"


def test_host_and_port_in_dotenv_move_the_server_and_the_public_address_alike(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text("HOST=0.0.0.0\nPORT=9123\nSECRET_KEY=x\n")
    monkeypatch.setattr("smsplatform.config.PROJECT_ROOT", tmp_path)
    for name in ("HOST", "PORT", "PUBLIC_BASE_URL", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    assert listen_address() == ("0.0.0.0", "9123")  # what gunicorn.conf.py binds
    assert load_config()["PUBLIC_BASE_URL"] == "http://127.0.0.1:9123"
    # monkeypatch removes what load_dotenv wrote into the environment: the names were deleted above.
