"""A process refuses to start on a database whose schema is not the one this code's migrations build.

Started by hand against an older (or newer) schema, the web server, the scheduler and the operators' CLI used to
fail later and in confusing ways: a missing column in the middle of a request. Each entry point reads the
database's Alembic revision once, at start, and stops with one message saying what to run:

- gunicorn (gunicorn.conf.py, in the master, beside the settings check) and ``wsgi.py`` under any other server;
- the launcher (``scripts/run`` upgrades before it starts it);
- the CLI groups that use the database (``SchemaCheckedGroup``). ``flask db …`` is not one of them: ``db upgrade``
  is what brings an old schema up to date. The test suite's apps (``create_app``) are not checked either.
"""
import sys
from pathlib import Path

import click
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from flask import current_app
from flask.cli import FlaskGroup
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
UPGRADE = "flask --app wsgi db upgrade"


class SchemaMismatch(Exception):
    """The database's schema is not this code's; ``report()`` is what the process prints as it stops."""

    def report(self) -> str:
        return f"smsplatform: cannot start: {self}"


def schema_problem(connection: Connection) -> str | None:
    """What stands between the database behind ``connection`` and this code's schema, or None when it is at
    the head of migrations/."""
    scripts = ScriptDirectory(str(MIGRATIONS))
    needed = set(scripts.get_heads())
    current = set(MigrationContext.configure(connection).get_current_heads())
    if current == needed:
        return None
    wanted = ", ".join(sorted(needed))
    if not current:
        return (f"the database has no schema yet (no alembic_version) but this code needs revision {wanted}: "
                f"run `{UPGRADE}`")
    found = ", ".join(sorted(current))
    if all(_known(scripts, revision) for revision in current):
        return f"the database schema is at revision {found} but this code needs {wanted}: run `{UPGRADE}`"
    return (f"the database schema is at revision {found}, which this code does not know: this code is older than "
            f"the database (run the newer code, or downgrade the database to {wanted} with the newer code's "
            f"`flask --app wsgi db downgrade {wanted}`)")


def _known(scripts: ScriptDirectory, revision: str) -> bool:
    try:
        return scripts.get_revision(revision) is not None
    except CommandError:
        return False


def require_current_schema(database_url: str) -> None:
    """Raise ``SchemaMismatch`` unless the database at ``database_url`` has this code's schema.

    Its own short-lived connection, closed before returning: nothing is left open for a forking server to share.
    A database that cannot be reached is not a reason to stop here (a web server started before its database
    serves once the database is up, as before): that is said on stderr and the process starts unchecked."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            problem = schema_problem(connection)
    except SQLAlchemyError as error:
        reason = str(error).splitlines()[0]  # the driver's message; a URL's password is not in it
        print(f"smsplatform: could not read the database's schema version ({reason}); starting without "
              "checking it", file=sys.stderr, flush=True)
        return
    finally:
        engine.dispose()
    if problem:
        raise SchemaMismatch(problem)


def loaded_by_flask_cli() -> bool:
    """Whether the ``flask`` command is loading the app (``flask --app wsgi …``): its commands check for themselves
    (``SchemaCheckedGroup``), so that ``flask db upgrade`` runs on an old schema."""
    context = click.get_current_context(silent=True)
    return context is not None and isinstance(context.find_root().command, FlaskGroup)


class SchemaCheckedGroup(click.Group):
    """A CLI group whose commands use the database: the schema is checked before any of them runs (``--help``
    needs no database and is answered first)."""

    def invoke(self, ctx: click.Context):
        try:
            require_current_schema(current_app.config["SQLALCHEMY_DATABASE_URI"])
        except SchemaMismatch as mismatch:
            click.echo(mismatch.report(), err=True)
            ctx.exit(1)
        return super().invoke(ctx)
