"""WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi …``."""
import sys

from smsplatform import create_app
from smsplatform.config import ConfigError
from smsplatform.schema_check import SchemaMismatch, loaded_by_flask_cli, require_current_schema

try:
    app = create_app()
    if not loaded_by_flask_cli():  # served: the schema must be this code's (flask's commands check their own)
        require_current_schema(app.config["SQLALCHEMY_DATABASE_URI"])
except (ConfigError, SchemaMismatch) as error:
    print(error.report(), file=sys.stderr)
    # 4 is gunicorn's "app failed to load": its master stops instead of starting the worker again and again.
    raise SystemExit(4) from None
