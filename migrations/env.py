import logging
from logging.config import fileConfig

from flask import current_app

from alembic import context

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging.
# This line sets up loggers basically.
fileConfig(config.config_file_name, disable_existing_loggers=False)  # keep the app's loggers when migrating in-process (tests)
logger = logging.getLogger('alembic.env')


def get_engine():
    try:
        # this works with Flask-SQLAlchemy<3 and Alchemical
        return current_app.extensions['migrate'].db.engine
    except (TypeError, AttributeError):
        # this works with Flask-SQLAlchemy>=3
        return current_app.extensions['migrate'].db.engine


def get_engine_url():
    try:
        return get_engine().url.render_as_string(hide_password=False).replace(
            '%', '%%')
    except AttributeError:
        return str(get_engine().url).replace('%', '%%')


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option('sqlalchemy.url', get_engine_url())
target_db = current_app.extensions['migrate'].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def get_metadata():
    if hasattr(target_db, 'metadatas'):
        return target_db.metadatas[None]
    return target_db.metadata


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url, target_metadata=get_metadata(), literal_binds=True,
        render_as_batch=True, compare_type=True
    )

    with context.begin_transaction():
        context.run_migrations()


def utf8mb4_by_default(connection):
    """MariaDB/MySQL: a table takes its database's default character set, and MariaDB's own default is latin1.
    In a database created without ``CHARACTER SET utf8mb4`` every table was latin1, and any text beyond it
    (Cyrillic, Greek, emoji) failed as a server error ("Illegal mix of collations", "Incorrect string value").
    Make utf8mb4 (utf8mb4_unicode_ci, the collation the platform is built and tested on) the default before
    the migrations create tables; name the tables an earlier run already created in another character set."""
    if connection.dialect.name not in ("mysql", "mariadb"):
        return
    name, charset = connection.exec_driver_sql("SELECT DATABASE(), @@character_set_database").one()
    if charset != "utf8mb4":
        try:
            connection.exec_driver_sql(
                f"ALTER DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        except Exception as error:
            raise SystemExit(
                f"database {name!r} has the default character set {charset}, in which tables cannot hold "
                f"every message; the migration could not change it ({error.__class__.__name__}): run "
                f"ALTER DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci as its owner, "
                "then this command again") from None
        logger.warning("database %r: default character set %s changed to utf8mb4 (utf8mb4_unicode_ci) "
                       "for the tables the migrations create", name, charset)
    others = connection.exec_driver_sql(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_NAME <> 'alembic_version' AND TABLE_COLLATION NOT LIKE 'utf8mb4%%' "
        "ORDER BY TABLE_NAME").scalars().all()
    for table in others:
        logger.warning("table %s is not utf8mb4: text outside its character set fails; convert it with "
                       "ALTER TABLE `%s` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci", table, table)
    connection.commit()  # the migrations begin their own transaction


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, 'autogenerate', False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info('No changes in schema detected.')

    conf_args = current_app.extensions['migrate'].configure_args
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    connectable = get_engine()

    with connectable.connect() as connection:
        utf8mb4_by_default(connection)
        context.configure(
            connection=connection,
            target_metadata=get_metadata(),
            **conf_args
        )

        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
