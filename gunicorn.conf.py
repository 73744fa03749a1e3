"""Gunicorn settings for the web server: gevent workers, so an idle event stream costs a greenlet.

Environment, or .env (read after GUNICORN_WORKER_CLASS): HOST (127.0.0.1), PORT (8000), WEB_CONCURRENCY
(worker processes, default 2), GUNICORN_WORKER_CONNECTIONS (open connections per worker, default 1000).
"""
import os
import sys
from pathlib import Path

worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")

if worker_class == "gevent":
    # Patch before anything (ssl, sockets, threads) is imported by gunicorn or the app; the gevent
    # worker patches again after fork, which is then a no-op instead of a "too late" warning.
    from gevent import monkey

    monkey.patch_all()

sys.path.insert(0, str(Path(__file__).resolve().parent))
from smsplatform.config import listen_address  # noqa: E402  (after patching: it imports SQLAlchemy)

bind = "{}:{}".format(*listen_address())  # HOST and PORT, from the environment or .env
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "1000"))
# Event streams are long-lived; gevent workers are not killed for a long request.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "5"))
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
wsgi_app = "wsgi:app"
# The runtime-control socket is a per-user path: several servers on one machine would fight over it.
control_socket_disable = True
