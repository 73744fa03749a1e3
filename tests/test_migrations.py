"""The Alembic migrations build exactly the schema the models declare, on SQLite and MariaDB."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from smsplatform.extensions import db


def test_migrated_schema_matches_models(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []
