"""The Alembic migrations build exactly the schema the models declare, on SQLite and MariaDB."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from smsplatform.extensions import db


def test_migrated_schema_matches_models(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_every_migration_downgrades_to_an_empty_database_and_upgrades_again(base_config, tmp_path):
    """``flask db downgrade base`` then ``db upgrade``: each step of the way down runs (on MariaDB too, where
    an index a foreign key needs cannot be dropped before its table), and the way up builds the schema again."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect

    from tests.support.migrations import app_at_revision

    with app_at_revision(base_config, tmp_path, "head"):
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, db.metadata) == []
