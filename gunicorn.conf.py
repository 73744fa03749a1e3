"""Gunicorn settings for the web server: gevent workers, so an idle event stream costs a greenlet.

Environment, or .env: HOST (127.0.0.1), PORT (8000), WEB_CONCURRENCY (worker processes, default 2),
GUNICORN_WORKER_CLASS (gevent: smsplatform.webserver's), GUNICORN_WORKER_CONNECTIONS (open connections per
worker, default 1000), GUNICORN_TIMEOUT, GUNICORN_GRACEFUL_TIMEOUT, GUNICORN_ACCESS_LOG, GUNICORN_LOG_LEVEL.
These and the app's settings are checked here, once, before any worker starts: a bad value stops gunicorn
with one message naming it (smsplatform.config.ConfigError); gunicorn reads WEB_CONCURRENCY from the
environment itself before this file runs, so ``python -m smsplatform.serve`` checks the settings before it.
"""
import os
import sys
from pathlib import Path

from dotenv import load_dotenv

load_dotenv(Path(__file__).resolve().parent / ".env", override=False)  # as smsplatform.config reads it, later
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")

if worker_class == "gevent":
    # Patch before anything (ssl, sockets, threads) is imported by gunicorn or the app; the gevent
    # worker patches again after fork, which is then a no-op instead of a "too late" warning.
    from gevent import monkey

    monkey.patch_all()
    # gevent's worker, taking requests as legacy integrations send them (raw UTF-8 in URLs, JSON refusals).
    worker_class = "smsplatform.webserver.GeventWorker"

sys.path.insert(0, str(Path(__file__).resolve().parent))
from smsplatform.config import ConfigError, load_config, web_server_settings  # noqa: E402  (after patching)
from smsplatform.schema_check import SchemaMismatch, require_current_schema  # noqa: E402

try:
    _settings = web_server_settings()
    # The app's settings too, in the master: a bad one stops the server here instead of failing each worker,
    # and the instance's generated secret key exists before the workers that share it start. So does a database
    # whose schema is not this code's.
    require_current_schema(load_config()["SQLALCHEMY_DATABASE_URI"])
except (ConfigError, SchemaMismatch) as _error:
    sys.exit(_error.report())

bind = _settings["bind"]  # HOST and PORT, from the environment or .env
workers = _settings["workers"]
worker_connections = _settings["worker_connections"]
# Event streams are long-lived; gevent workers are not killed for a long request.
timeout = _settings["timeout"]
graceful_timeout = _settings["graceful_timeout"]
keepalive = 5
# Request lines as long as Apache (LimitRequestLine) and nginx (large_client_header_buffers) take: a GET addsms
# with some 1,300 percent-encoded Cyrillic letters; 8190 is gunicorn's most.
limit_request_line = 8190
# smsplatform.webserver's request handling is in gunicorn's Python parser (gunicorn_h1c refuses raw bytes).
http_parser = "python"
accesslog = _settings["accesslog"]
# gunicorn's default line, ending with the answer's request id (smsplatform.request_ids).
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %({x-request-id}o)s'
errorlog = "-"
loglevel = _settings["loglevel"]
# Access lines without the secrets clients put in query strings (token, pass, …); the app's own log
# records (smsplatform.*) in the error log, with gunicorn's time stamp, pid and level.
logger_class = "smsplatform.weblog.Logger"
wsgi_app = "wsgi:app"
# The runtime-control socket is a per-user path: several servers on one machine would fight over it.
control_socket_disable = True
