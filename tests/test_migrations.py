"""The Alembic migrations build exactly the schema the models declare, on SQLite and MariaDB."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from smsplatform.extensions import db
from tests.conftest import TEST_DATABASE_URL, database_is_mariadb


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


@pytest.mark.skipif(not database_is_mariadb(), reason="a MariaDB database's default character set")
def test_upgrading_a_database_created_without_utf8mb4_makes_tables_that_hold_any_text(base_config):
    """``CREATE DATABASE sms`` takes the server's default character set, MariaDB's own being latin1: the tables
    the migrations created there were latin1, and a tag or message in Cyrillic or with an emoji was a 500."""
    from flask_migrate import upgrade
    from sqlalchemy import create_engine, make_url, text

    from smsplatform import create_app
    from smsplatform.accounts.services import create_account
    from smsplatform.contacts.services import find_tag_by_title, save_tag

    url = make_url(TEST_DATABASE_URL)
    name = f"{url.database}_latin1"
    server = create_engine(url)
    with server.begin() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET latin1"))
    try:
        app = create_app({**base_config,
                          "SQLALCHEMY_DATABASE_URI": url.set(database=name).render_as_string(hide_password=False)})
        with app.app_context():
            upgrade()
            account = create_account("latin@example.com", "correct horse battery", "UTC")
            save_tag(account, "Клиенты 😀")
            db.session.commit()
            assert find_tag_by_title(account, "клиенты 😀").title == "Клиенты 😀"
            collations = set(db.session.execute(text(
                "SELECT TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")).scalars())
            assert collations == {"utf8mb4_unicode_ci"}
            db.session.remove()
            db.engine.dispose()
    finally:
        with server.begin() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()


@pytest.mark.skipif(database_is_mariadb(), reason="partial indexes are SQLite's (MariaDB has none)")
def test_on_sqlite_the_indexes_looked_up_by_a_value_leave_out_the_rows_without_one(app):
    """A message without a customer id, newsletter, contact or image (an OTP from addsms) is written to none of
    the indexes that are only ever searched for such a value: fewer pages per insert on SQLite's one writer."""
    from sqlalchemy import text

    with db.engine.connect() as connection:
        created = dict(connection.execute(text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages'")).all())
    for name, column in (("ix_messages_account_customer_created", "customer_id"),
                         ("ix_messages_paket_status", "paket_id"), ("ix_messages_contact", "contact_id"),
                         ("ix_messages_media_object_id", "media_object_id")):
        assert created[name].endswith(f"WHERE {column} IS NOT NULL"), created[name]
