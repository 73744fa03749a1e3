"""smsplatform: a self-hosted bulk-SMS platform that sends through paired Android phones."""
from pathlib import Path

from flask import Flask, jsonify, render_template, request
from sqlalchemy.engine import make_url
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from smsplatform import events
from smsplatform.config import load_config
from smsplatform.db_casefold import register_search_fold
from smsplatform.db_sqlite_lock import BUSY_TIMEOUT_SECONDS, WriterConnection
from smsplatform.extensions import csrf, db, login_manager, migrate
from smsplatform.models.types import MAX_ROW_ID
from smsplatform.path_slashes import MergedSlashes
from smsplatform.request_ids import RequestIds
from smsplatform.sessions import DashboardSessionInterface


class RowId(IntegerConverter):
    """``<int:…>`` in every route: at most the largest id a BIGINT holds, so a longer number does not match
    (a 404, as a missing id) instead of reaching the database (SQLite cannot bind it: a 500)."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(url_map, *args, **kwargs)


def create_app(config: dict | None = None) -> Flask:
    """The app factory: settings from the environment, overridden by ``config`` (tests)."""
    app = Flask(__name__, instance_relative_config=False)
    app.config.update(load_config())
    if config:
        app.config.update(config)
    backend = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name()
    if backend in ("mysql", "mariadb"):
        # No gap locks: concurrent inserts, claims and range updates on messages do not deadlock each other.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**app.config["SQLALCHEMY_ENGINE_OPTIONS"],
                                                   "isolation_level": "READ COMMITTED"}
    elif backend == "sqlite":
        # A file never drops a connection: pinging it would cost a statement on every request. Its connections
        # wait for the write lock without stopping a gevent worker (db_sqlite_lock).
        options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            **options, "pool_pre_ping": False,
            "connect_args": {**options.get("connect_args", {}), "factory": WriterConnection}}
    app.instance_path = app.config["INSTANCE_PATH"]
    app.session_interface = DashboardSessionInterface()
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    # Routes are exact: werkzeug must not answer a phone's PATCH with a slash-fixing redirect.
    app.url_map.strict_slashes = False
    app.url_map.merge_slashes = False
    app.url_map.converters["int"] = RowId

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    if backend == "sqlite":
        _configure_sqlite(app)
    events.init_app(app)

    app.before_request(_refuse_a_body_cut_at_the_limit)
    _register_blueprints(app)
    _register_api_errors(app)
    _register_cli(app)
    if app.config["TRUSTED_PROXIES"]:
        # Behind the TLS reverse proxy: client address (login limits, externalIp) and scheme from its headers.
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.wsgi_app = RequestIds(app.wsgi_app)  # outermost: its header is on every answer
    return app


def _refuse_a_body_cut_at_the_limit() -> None:
    """A body sent without a Content-Length (``Transfer-Encoding: chunked``) is read only up to
    ``MAX_CONTENT_LENGTH``, and werkzeug then hands on what it read: a JSON body, a form or a batch cut
    short, or a small body padded past the limit, would be taken as sent. One that fills the whole
    allowance is refused with 413, as one announcing its size is."""
    limit = request.max_content_length
    if request.content_length is None and limit is not None and request.method in ("POST", "PUT", "PATCH"):
        if len(request.get_data(cache=True)) >= limit:
            raise RequestEntityTooLarge()


def _register_api_errors(app: Flask) -> None:
    """Paths no blueprint matched: machine clients get JSON (the phone app shows the text), people in the
    dashboard its own "not found" page; the legacy API and uploads answer as their blueprints do."""

    @app.errorhandler(HTTPException)
    def _unmatched_path_error(error):
        if request.path.startswith("/api/"):
            headers = [(name, value) for name, value in error.get_headers() if name != "Content-Type"]  # a 405's Allow
            return jsonify({"message": error.description or error.name, "code": error.code}), error.code, headers
        if error.code == 404 and request.path != "/getdata" and not request.path.startswith(("/getdata/", "/uploads/")):
            return render_template("web/404.html"), 404
        return error


def _configure_sqlite(app: Flask) -> None:
    """WAL and a busy timeout, so the web server and the scheduler process can share one SQLite file; the
    ``search_fold()`` function for searches in any letter case, with or without accents (db_casefold)."""
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine
    checkpoint_pages = int(app.config["SQLITE_WAL_AUTOCHECKPOINT_PAGES"])

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        register_search_fold(dbapi_connection)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA temp_store=MEMORY")  # statement journals in memory, not temporary files
        cursor.execute(f"PRAGMA wal_autocheckpoint={checkpoint_pages}")
        cursor.close()


def _register_blueprints(app: Flask) -> None:
    from smsplatform.api.legacy.routes import bp as legacy_bp

    app.register_blueprint(legacy_bp)
    csrf.exempt(legacy_bp)

    from smsplatform.web import bp as web_bp

    app.register_blueprint(web_bp)

    from smsplatform.storage.routes import bp as uploads_bp

    app.register_blueprint(uploads_bp)

    from smsplatform.devices.api import PREFIX as MOBILE_PREFIX, bp as mobile_bp

    app.register_blueprint(mobile_bp)
    csrf.exempt(mobile_bp)
    app.wsgi_app = MergedSlashes(app.wsgi_app, (legacy_bp.url_prefix, MOBILE_PREFIX))

    from smsplatform.devices.events_api import bp as mobile_events_bp

    app.register_blueprint(mobile_events_bp)
    csrf.exempt(mobile_events_bp)


def _register_cli(app: Flask) -> None:
    from smsplatform.accounts.cli import accounts_cli

    app.cli.add_command(accounts_cli)

    from smsplatform.campaigns.cli import newsletters_cli

    app.cli.add_command(newsletters_cli)

    from smsplatform.devices.cli import devices_cli

    app.cli.add_command(devices_cli)

    from smsplatform.phone_sim.cli import phone_cli
    from smsplatform.scheduler.cli import scheduler_cli

    app.cli.add_command(scheduler_cli)
    app.cli.add_command(phone_cli)
