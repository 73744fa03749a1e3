"""Data-migration tests: an app whose database stands at an older revision, on the suite's backend."""
from contextlib import contextmanager

from flask_migrate import upgrade

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
