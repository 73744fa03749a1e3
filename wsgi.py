"""WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi …``."""
import sys

from smsplatform import create_app
from smsplatform.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    print(error.report(), file=sys.stderr)
    # 4 is gunicorn's "app failed to load": its master stops instead of starting the worker again and again.
    raise SystemExit(4) from None
