"""Fixtures: an app on a schema built by the migrations, emptied after every test.

SQLite by default; ``TEST_DATABASE_URL`` (set by ``scripts/test`` for its MariaDB pass) picks another
database. Helpers here create objects through the services, as a user would.
"""
import os
from pathlib import Path

import pytest
from sqlalchemy import text

from smsplatform import create_app
from smsplatform.extensions import db

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


def database_is_mariadb() -> bool:
    return bool(TEST_DATABASE_URL) and TEST_DATABASE_URL.startswith("mysql")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    if TEST_DATABASE_URL:
        return TEST_DATABASE_URL
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def base_config(database_url, tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "test-secret",
        "PUBLIC_BASE_URL": "http://localhost",
        "WTF_CSRF_ENABLED": False,
        "UPLOAD_DIR": str(instance / "uploads"),
        "EVENTS_SOCKET_DIR": str(instance / "events"),
    }


@pytest.fixture(scope="session")
def _schema(base_config):
    """Build the schema once per run with the Alembic migrations (so they are tested too)."""
    from flask_migrate import upgrade

    app = create_app(base_config)
    with app.app_context():
        if database_is_mariadb():
            _drop_every_table()  # a reused database may hold an older schema
        upgrade()
    return True


@pytest.fixture
def migrated_to_before(request, base_config, tmp_path):
    """For a data-migration test: an app, its context pushed, whose database stands at the revision the
    test module names as ``BEFORE`` (see tests.support.migrations.app_at_revision)."""
    from tests.support.migrations import app_at_revision

    with app_at_revision(base_config, tmp_path, request.module.BEFORE) as app:
        yield app


def _drop_every_table() -> None:
    with db.engine.begin() as connection:
        names = connection.execute(text("SHOW TABLES")).scalars().all()
        connection.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for name in names:
            connection.execute(text(f"DROP TABLE `{name}`"))
        connection.execute(text("SET FOREIGN_KEY_CHECKS=1"))


@pytest.fixture
def app(base_config, _schema):
    app = create_app(base_config)
    with app.app_context():
        yield app
        db.session.remove()
        _empty_all_tables()


def _empty_all_tables() -> None:
    with db.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(text("PRAGMA foreign_keys=OFF"))
        else:
            connection.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for table in reversed(db.metadata.sorted_tables):
            connection.execute(table.delete())
        if connection.dialect.name != "sqlite":
            connection.execute(text("SET FOREIGN_KEY_CHECKS=1"))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def sandbox(tmp_path):
    """A directory holding the upload root and nothing else, to prove nothing is written beside it."""
    return tmp_path / "sandbox"


@pytest.fixture
def upload_root(app, sandbox):
    """A private local upload directory for this test's app, to see exactly what was stored."""
    root = sandbox / "uploads"
    app.config.update(STORAGE_BACKEND="local", UPLOAD_DIR=str(root))
    app.extensions.pop("smsplatform.storage", None)
    return root


@pytest.fixture
def make_account(app):
    """``make_account(email=…)`` -> (account, token), committed."""
    from smsplatform.accounts import services

    counter = {"n": 0}

    def _make(email=None, password="correct horse battery", timezone="UTC"):
        counter["n"] += 1
        account = services.create_account(email or f"user{counter['n']}@example.com", password, timezone)
        token = services.issue_token(account)
        db.session.commit()
        return account, token

    return _make


def create_device(account, name="Test phone", slots="", **fields):
    """A committed device of ``account``: the one way tests build a Device row. It has no token unless
    ``token_hash=`` is given (protocol tests pair theirs over HTTP)."""
    from smsplatform.models import Device

    device = Device(account_id=account.id, name=name, webhook_signing_key="k" * 32, extra_slots=slots, **fields)
    db.session.add(device)
    db.session.commit()
    return device


@pytest.fixture
def make_device(app):
    """``make_device(account, name=…, slots="2,3", **columns)`` -> a committed Device."""
    return create_device


@pytest.fixture
def account(make_account):
    return make_account(email="owner@example.com")


ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
