"""The dashboard blueprint, its session set-up (Flask-Login, session lifetime, cookie flags, CSRF token
lifetime), the commit-or-show-the-error block of its forms (``saving``), its 404 for NotFoundError, its page
for a form whose CSRF token no longer holds and the upload pages' answer to a request past the size limit
(``too_large_page``)."""
import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import (Blueprint, Response, abort, current_app, render_template, request, send_file, session,
                   stream_with_context, url_for)
from flask.typing import ResponseReturnValue
from flask_login import UserMixin, current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge

from smsplatform import spreadsheets
from smsplatform.accounts.services import dashboard_session_open
from smsplatform.errors import DomainError, NotFoundError
from smsplatform.extensions import db, login_manager
from smsplatform.messaging import statuses
from smsplatform.messaging.service import channel_label
from smsplatform.models import Account
from smsplatform.request_ids import current_request_id
from smsplatform.timeutil import to_zone, zone_choices
from smsplatform.web.queries import group_of

bp = Blueprint(
    "web", __name__, template_folder="templates", static_folder="static", static_url_path="/static/web"
)


class DashboardUser(UserMixin):
    """The signed-in account. Its id carries ``session_version``, so a password change ends other sessions."""

    def __init__(self, account: Account):
        self.account = account

    def get_id(self) -> str:
        return f"{self.account.id}:{self.account.session_version}"


@bp.record_once
def _configure(state) -> None:
    app = state.app
    app.permanent_session_lifetime = timedelta(seconds=app.config["SESSION_LIFETIME_SECONDS"])
    # A form's token holds as long as the session does (Flask-WTF's default is an hour).
    app.config["WTF_CSRF_TIME_LIMIT"] = app.config["SESSION_LIFETIME_SECONDS"]
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    if app.config["PUBLIC_BASE_URL"].startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True  # served over TLS: never send the session in clear
    login_manager.login_view = "web.login"
    login_manager.login_message = "Please log in to see this page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    login_manager.user_loader(_load_user)


def _load_user(user_id: str) -> DashboardUser | None:
    """The session's account, unless its password changed, the session outlived its lifetime or was ended
    by logging out (in any browser holding a copy of its cookie)."""
    account_id, _, version = user_id.partition(":")
    if not account_id.isdigit():
        return None
    if not dashboard_session_open(int(account_id), session.get("sid"), current_app.config):
        return None
    account = db.session.get(Account, int(account_id))
    if account is None or str(account.session_version) != version:
        return None
    return DashboardUser(account)


def me() -> Account:
    """The signed-in account (call only inside ``login_required`` views)."""
    return current_user.account


def owned(model, object_id: int):
    """One of the signed-in account's objects, or 404 (a foreign id looks exactly like a missing one)."""
    obj = db.session.get(model, object_id)
    if obj is None or obj.account_id != me().id:
        abort(404)
    return obj


class Saved:
    """How a ``saving`` block ended: ``error`` is the service's refusal, None once committed."""

    error: DomainError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@contextmanager
def saving(on_error: Callable[[DomainError], object]) -> Iterator[Saved]:
    """The request's one transaction around its service calls: committed when the block ends; when a
    service refuses (DomainError), rolled back and the error handed to ``on_error`` (shown beside a form
    field, or flashed). Code after the block sees which through ``ok``.

    Inside the block a NotFoundError is a refusal like any other (a tag id in a form); outside, it
    reaches ``_not_found_error``, the 404 page.
    """
    saved = Saved()
    try:
        yield saved
    except DomainError as exc:
        db.session.rollback()
        saved.error = exc
        on_error(exc)
    else:
        db.session.commit()


def in_form_words(error: DomainError, words: dict[str, str]) -> DomainError:
    """``error`` with each message that starts with a service's field name (``sendto 'abc' is not a phone
    number``) starting with what the person filling in the form calls it (``recipient 'abc' is not …``)."""
    reworded = copy.copy(error)
    reworded.problems = [
        (field, words[field] + message[len(field):] if field in words and message.startswith(field) else message)
        for field, message in error.problems]
    return reworded


def back_to_list(endpoint: str, list_args: frozenset[str]) -> str:
    """The list page ``endpoint`` as the request's arguments among ``list_args`` (its filter and page) show it:
    where a list's bulk form returns to (its action carries them), and never another site."""
    return url_for(endpoint, **{key: value for key, value in request.args.items() if key in list_args and value})


def form_time(value: datetime | None) -> str | None:
    """A time typed in a form as the services read it, ``YYYY-MM-DD HH:MM:SS`` (the year in four digits, which
    ``strftime("%Y")`` does not pad: year 1 would be an unreadable ``1-01-01``, not a year out of range)."""
    return value.isoformat(sep=" ", timespec="seconds") if value else None


@bp.app_template_filter("local")
def local_time(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC datetime shown in the signed-in account's time zone."""
    if value is None:
        return ""
    tz_name = current_user.account.timezone if current_user.is_authenticated else "UTC"
    return to_zone(value, tz_name).strftime(fmt)


def spreadsheet_download(rows: Iterator[list], name: str, kind: str):
    """An export as a download: ``kind`` ``comma`` or ``semicolon`` (CSV, streamed as it is read) or
    ``xlsx`` (an Excel workbook, built whole first); 400 for another. ``rows`` start with the header."""
    if kind == "xlsx":
        return send_file(spreadsheets.xlsx_file(rows, name.capitalize()), mimetype=spreadsheets.XLSX_MIMETYPE,
                         as_attachment=True, download_name=f"{name}.xlsx")
    delimiter = spreadsheets.DELIMITERS.get(kind)
    if delimiter is None:
        abort(400)
    return Response(stream_with_context(spreadsheets.csv_lines(rows, delimiter)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


@bp.app_template_filter("counted")
def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``1 contact``, ``2 contacts`` (``plural`` for nouns that do not just take an s)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


@bp.app_template_filter("described_by")
def described_by(attrs: dict, field, with_hint: bool) -> dict:
    """Input attributes plus the ARIA wiring to the field's hint and, when invalid, its error text."""
    ids = [f"{field.id}-hint"] if with_hint and field.description else []
    if field.errors:
        ids.append(f"{field.id}-error")
        attrs = {**attrs, "aria-invalid": "true"}
    return {**attrs, "aria-describedby": " ".join(ids)} if ids else attrs


@bp.app_template_filter("status_title")
def status_title(status: int) -> str:
    return statuses.title(status)


@bp.app_template_filter("channel")
def channel(sim: int) -> str:
    """A message's or newsletter's slot by its one name (SIM 1, WhatsApp Business, RCS 2…)."""
    return channel_label(sim)


@bp.app_template_global("status_group")
def status_group(status: int) -> str:
    return group_of(status)


@bp.app_template_test("incoming")
def is_incoming(status: int) -> bool:
    return status == statuses.INCOMING


@bp.app_template_test("still_going")
def is_still_going(status: int) -> bool:
    """An outgoing message not final yet."""
    return status in statuses.OUTGOING_OPEN


@bp.app_template_filter("percent")
def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


@bp.context_processor
def _template_globals() -> dict:
    """``live_refresh``: the page is fetched by a live region (app.js), which shows no flashed message."""
    return {"zones": zone_choices(), "live_refresh": request.headers.get("X-Live-Refresh") == "1"}


@bp.errorhandler(404)
def _not_found(_error):
    return render_template("web/404.html"), 404


@bp.errorhandler(NotFoundError)
def _not_found_error(_error):
    """A service found no such object of this account: nothing is saved, and the page is the same 404 as
    for a missing URL (another account's id looks exactly like one that does not exist)."""
    db.session.rollback()
    return _not_found(_error)


@bp.errorhandler(InternalServerError)
def _server_error(_error):
    """A fault in a page (logged by Flask with its request id): the dashboard's own page naming that id, which
    the person can quote to the operator, instead of werkzeug's bare 500. Nothing of the request is kept."""
    db.session.rollback()
    return render_template("web/500.html", request_id=current_request_id()), 500


@bp.errorhandler(CSRFError)
def _form_expired(_error):
    """A form whose CSRF token no longer holds (the session ended or was started again, perhaps in another
    tab, or the page outlived the session) gets a dashboard page saying so and how to go on, instead of
    werkzeug's bare 400. Nothing of the form was read; ``back`` is the page it was sent from, when local."""
    back = None
    if request.referrer and request.referrer.startswith(request.host_url):
        referrer = urlsplit(request.referrer)
        back = referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return render_template("web/form_expired.html", back=back), 400


# The pages with a file field that answer a request past MAX_CONTENT_LENGTH themselves: endpoint → page.
_TOO_LARGE_PAGES: dict[str, Callable[..., ResponseReturnValue]] = {}


def too_large_page(view: Callable) -> Callable:
    """Decorator: the function it decorates renders ``view``'s page for a request past ``MAX_CONTENT_LENGTH``
    (MAX_REQUEST_BYTES): its form, unfilled, with the limit beside the file field, and status 413. It takes
    the view's URL arguments; a 404 it raises (``owned``) leaves the plain 413."""
    def register(page: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
        _TOO_LARGE_PAGES[f"{bp.name}.{view.__name__}"] = page
        return page
    return register


@bp.errorhandler(RequestEntityTooLarge)
def _request_too_large(error):
    """A file past ``MAX_REQUEST_BYTES`` is told beside the field of the page it was sent from
    (``too_large_page``), not by werkzeug's bare 413. Nothing of the request was read, so nothing is stored.

    A handler, not the views: with CSRF on (as in production) the token check reads the form, and meets
    the size limit, before any view runs. Elsewhere, and for a visitor not signed in, the plain 413 stays.
    """
    page = _TOO_LARGE_PAGES.get(request.endpoint)
    if page is None or not current_user.is_authenticated:
        return error
    try:
        return page(**request.view_args)
    except HTTPException:  # a page this account may not see (another account's newsletter)
        return error
