"""Sign up, log in, log out, password, account settings and API tokens."""
import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from flask import current_app, flash, make_response, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from smsplatform.accounts import services
from smsplatform.errors import AuthenticationError, RateLimitedError
from smsplatform.extensions import db
from smsplatform.web.blueprint import DashboardUser, bp, counted, me, saving
from smsplatform.web.forms import ChangePasswordForm, LoginForm, SettingsForm, SignupForm, TokenForm, show_error


def _start_session(account, session_id: str) -> None:
    """The cookie of a session ``services.start_dashboard_session`` opened (and the request committed)."""
    session.clear()
    session.permanent = True
    login_user(DashboardUser(account))
    session["sid"] = session_id


def _safe_next(target: str | None) -> str:
    """Only a local path: an attacker's link must not bounce a fresh login to another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("web.overview")


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("web.overview"))
    form = SignupForm()
    if form.validate_on_submit():
        try:
            services.check_signup_allowed(request.remote_addr, current_app.config)
        except RateLimitedError as exc:
            form.form_errors.append(exc.message)
            return render_template("web/signup.html", form=form), 429
        services.record_signup_attempt(request.remote_addr)
        db.session.commit()  # the attempt counts even when the sign-up is refused below
        with saving(lambda exc: show_error(form, exc, "email")) as saved:  # each problem of a sign-up
            account = services.create_account(form.email.data, form.password.data, form.timezone.data.strip())
            session_id = services.start_dashboard_session(account)
        if saved.ok:
            _start_session(account, session_id)
            flash("Welcome! Pair a phone to start sending.", "success")
            return redirect(url_for("web.devices"))
    return render_template("web/signup.html", form=form), 400 if form.errors else 200


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            account = services.authenticate(form.email.data, form.password.data, request.remote_addr,
                                            current_app.config)
        except RateLimitedError as exc:
            db.session.rollback()
            form.form_errors.append(exc.message)
            status = 429
        except AuthenticationError:
            db.session.commit()  # the failure counts toward the brute-force limit
            form.form_errors.append("Email or password incorrect.")
            status = 401
        else:
            session_id = services.start_dashboard_session(account)
            db.session.commit()
            _start_session(account, session_id)
            return redirect(_safe_next(request.args.get("next")))
    elif form.errors:
        status = 400
    return render_template("web/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    """Ends the session itself, not only this browser's copy of its cookie."""
    services.end_dashboard_session(session.get("sid"))
    db.session.commit()
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("web.login"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def settings():
    account = me()
    form = SettingsForm(obj=account if request.method == "GET" else None)
    if request.method == "GET":
        form.optout_keywords.data = account.optout_keywords or _default_keywords()
    if form.validate_on_submit():
        with saving(lambda exc: show_error(form, exc)) as saved:
            renumbered = services.update_settings(
                account, timezone=form.timezone.data, default_region=form.default_region.data or "",
                optout_keywords=form.optout_keywords.data,
                allow_direct_to_opted_out=form.allow_direct_to_opted_out.data,
            )
        if saved.ok:
            flash("Settings saved." + _renumbered_note(renumbered), "success")
            return redirect(url_for("web.settings"))
    return render_template("web/settings.html", form=form, password_form=ChangePasswordForm()), \
        400 if form.errors else 200


def _renumbered_note(renumbered) -> str:
    if renumbered is None or not renumbered.contacts:
        return ""
    count, merged = renumbered.contacts, renumbered.merged
    note = (f" {counted(count, 'contact')} saved with a national number now "
            f"{'have' if count != 1 else 'has'} the international one")
    if merged:
        which = "it was" if count == 1 else f"{merged} of them {'were' if merged != 1 else 'was'}"
        note += f"; {which} merged into the contact that already had that number (tags, messages and any opt-out kept)"
    return note + "."


def _default_keywords() -> str:
    try:
        from smsplatform.contacts.optout import DEFAULT_OPTOUT_KEYWORDS
    except ImportError:
        return "STOP"
    return ",".join(DEFAULT_OPTOUT_KEYWORDS)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """The password form of the Account page. Its address stays in the browser after a refused change: asked
    for again (a reload, a bookmark), it leads to the Account page's password form."""
    if request.method == "GET":
        return redirect(url_for("web.settings", _anchor="change-password"))
    account = me()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        with saving(lambda exc: show_error(form, exc, "new_password")) as saved:
            services.change_password(account, form.current_password.data, form.new_password.data)
        if saved.ok:
            login_user(DashboardUser(account))  # this session carries the new version; the others end
            flash("Password changed. Other sessions are signed out.", "success")
            return redirect(url_for("web.settings"))
    settings_form = SettingsForm(obj=account)
    settings_form.optout_keywords.data = account.optout_keywords or _default_keywords()
    return render_template("web/settings.html", form=settings_form, password_form=form), 400


@bp.route("/tokens", methods=["GET", "POST"])
@login_required
def tokens():
    """Post/Redirect/Get: a created token's secret waits in the session (sealed) for the page the redirect
    leads to, which shows it once and takes it out; reloading that page creates nothing and shows it no more."""
    account = me()
    form = TokenForm()
    if form.validate_on_submit():
        secret = services.issue_token(account, (form.label.data or "").strip())
        db.session.commit()
        session[_NEW_TOKEN] = _sealed(secret)
        return redirect(url_for("web.tokens"))
    new_token = _unsealed(session.pop(_NEW_TOKEN, None)) if request.method == "GET" else None
    response = make_response(render_template("web/tokens.html", form=form, new_token=new_token,
                                             tokens=services.list_tokens(account)), 400 if form.errors else 200)
    if new_token:
        response.headers["Cache-Control"] = "no-store"  # not shown again from the cache (Back, a restored tab)
    return response


# The session key of a token just created, until the page after the redirect shows it.
_NEW_TOKEN = "new_token"


def _sealed(secret: str) -> dict[str, str]:
    """``secret`` as the session holds it: the session cookie is signed, not encrypted, and the browser keeps it,
    so the secret is XORed with a keystream only SECRET_KEY derives (HMAC-SHA256 of a fresh nonce)."""
    nonce = secrets.token_bytes(16)
    data = secret.encode()
    return {"nonce": nonce.hex(), "sealed": bytes(a ^ b for a, b in zip(data, _keystream(nonce, len(data)))).hex()}


def _unsealed(value) -> str | None:
    """The secret ``_sealed`` sealed, or None when the session holds none."""
    try:
        nonce, sealed = bytes.fromhex(value["nonce"]), bytes.fromhex(value["sealed"])
        return bytes(a ^ b for a, b in zip(sealed, _keystream(nonce, len(sealed)))).decode("ascii")
    except (TypeError, KeyError, ValueError):  # None, or not a sealed value
        return None


def _keystream(nonce: bytes, length: int) -> bytes:
    key = current_app.config["SECRET_KEY"]
    key = key.encode() if isinstance(key, str) else key
    stream, counter = b"", 0
    while len(stream) < length:
        stream += hmac.new(key, b"new-api-token\0" + nonce + counter.to_bytes(4, "big"), hashlib.sha256).digest()
        counter += 1
    return stream[:length]


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int):
    row = services.revoke_token(me(), token_id)  # NotFoundError: the 404 page
    db.session.commit()
    flash(f"Token …{row.hint} revoked.", "success")
    return redirect(url_for("web.tokens"))
