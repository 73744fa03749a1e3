"""Data-migration tests: an app whose database stands at an older revision, on the suite's backend."""
from contextlib import contextmanager
from datetime import datetime

from flask_migrate import upgrade
from sqlalchemy import text

from smsplatform import create_app
from smsplatform.extensions import db
from tests.conftest import _drop_every_table, database_is_mariadb


@contextmanager
def app_at_revision(base_config: dict, tmp_path, revision: str):
    """An app, its context pushed, whose schema is migrated up to ``revision``: a scratch SQLite file, or
    on MariaDB the suite's shared database emptied of its tables (migrated to head again afterwards)."""
    config = dict(base_config)
    if not database_is_mariadb():
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'migration.db'}"
    app = create_app(config)
    with app.app_context():
        if database_is_mariadb():
            _drop_every_table()
        upgrade(revision=revision)
        try:
            yield app
        finally:
            db.session.remove()
            if database_is_mariadb():  # leave the shared database as the suite's _schema built it
                _drop_every_table()
                upgrade()


def insert_accounts(connection, ids, at: datetime) -> None:
    """Accounts as rows of the first schema (``{id}@example.com``), written with plain SQL."""
    connection.execute(text(
        "INSERT INTO accounts (id, email, password_hash, timezone, allow_direct_to_opted_out, session_version,"
        " created_at) VALUES (:id, :email, 'x', 'UTC', :false, 1, :at)"),
        [{"id": account_id, "email": f"{account_id}@example.com", "false": False, "at": at} for account_id in ids])


def insert_messages(connection, rows: list[dict]) -> None:
    """Messages as rows of the first schema, written with plain SQL: each row gives ``id``, ``account_id``,
    ``phone``, ``status``, ``at`` (its times) and ``failure_reason``, or takes the default."""
    defaults = {"id": None, "account_id": 1, "phone": "+15551234567", "status": 1, "failure_reason": None}
    connection.execute(text(
        "INSERT INTO messages (id, account_id, sendto, phone, body, segments, encoding, sim, urgent, priority,"
        " status, ready, due_at, created_at, updated_at, handed_count, failure_reason)"
        " VALUES (:id, :account_id, :phone, :phone, 'Hi', 1, 'GSM-7', 0, :false, 0, :status, :false,"
        " :at, :at, :at, 0, :failure_reason)"),
        [{**defaults, **row, "false": False} for row in rows])
