"""The phone API at ``/api/mobile/v1``: the protocol of the "SMS Gateway for Android" app.

A thin edge: parse the app's request, call one service, commit once, answer exactly as the app
expects (JSON with ``{"message": …}`` errors, dates with milliseconds and ``Z``, no redirects).

Compatibility with older apps (the version comes from ``User-Agent: me.capcom.smsgateway/<ver>``):
scheduled messages are held on the server until due (apps < 1.61.0 ignore ``scheduleAt``), no
message is ever handed out as ``Cancelling`` (apps < 1.67.0 would send it), text always travels in
``message`` too (apps < 1.39.1), and settings and webhook events are limited to what the version knows.
"""
import json
from functools import wraps

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError

from smsplatform import turns
from smsplatform.db_retry import retry_on_deadlock
from smsplatform.devices import auth, services, webhooks
from smsplatform.errors import AuthenticationError, ConflictError, DomainError, RateLimitedError, ValidationError
from smsplatform.extensions import db
from smsplatform.messaging import queue
from smsplatform.request_ids import current_request_id
from smsplatform.timeutil import iso_millis

PREFIX = "/api/mobile/v1"
# On MariaDB a report holds its message's row lock until the commit: a transaction of a few reports keeps
# the claims, the recovery jobs and the dashboard from waiting on a long body's locks.
REPORTS_PER_TRANSACTION = 100

bp = Blueprint("mobile", __name__, url_prefix=PREFIX)

_STATUS_FOR = {ValidationError: 400, AuthenticationError: 401, ConflictError: 403, RateLimitedError: 429}


def _answer(status: int, message: str):
    response = jsonify({"message": message})
    response.status_code = status
    return response


def _fail(error: DomainError, keep: bool = False):
    """Turn a domain error into the SRV-style error body; ``keep`` commits recorded auth failures."""
    if keep:
        db.session.commit()
    else:
        db.session.rollback()
    return _answer(_STATUS_FOR.get(type(error), 400), error.message)


def _json_body():
    try:
        return json.loads(request.get_data())
    except (ValueError, RecursionError):  # RecursionError: nested thousands deep, no phone sends that
        raise ValidationError("body must be JSON") from None


def _version(device=None) -> str | None:
    return auth.app_version(request.headers.get("User-Agent")) or (device.app_version if device else None)


def device_call(view):
    """Authenticate ``Authorization: Bearer <device token>``, record presence, pass the device on."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        try:
            device = auth.device_for_header(request.headers.get("Authorization"))
        except AuthenticationError as error:
            return _fail(error)
        auth.touch(device, auth.app_version(request.headers.get("User-Agent")), request.remote_addr)
        return view(device, *args, **kwargs)
    return retry_on_deadlock(wrapper)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    if isinstance(error, InternalServerError):  # a fault (logged by Flask with its request id): the id, to quote
        db.session.rollback()
        return _answer(500, f"internal server error (request id {current_request_id()})")
    return _answer(error.code or 500, error.description or error.name)


@bp.post("/device")
@retry_on_deadlock
def register():
    try:
        fields = services.parse_device_fields(_json_body(), require_name=True)
        scheme, credentials = auth.parse_authorization(request.headers.get("Authorization"))
    except DomainError as error:
        return _fail(error)
    try:
        account, code = services.account_for_registration(scheme, credentials, request.remote_addr, current_app.config)
    except AuthenticationError as error:
        return _fail(error, keep=True)
    except DomainError as error:
        return _fail(error)
    device, token = services.register_device(account, fields, _version(), request.remote_addr, pairing_code=code)
    answer = {"id": str(device.id), "token": token, "login": account.email}
    db.session.commit()
    response = jsonify(answer)
    response.status_code = 201
    return response


@bp.patch("/device")
@device_call
def update(device):
    try:
        body = _json_body()
        fields = services.parse_device_fields(body, require_name=False)
        services.update_device(device, body.get("id"), fields, _version(device))
    except DomainError as error:
        return _fail(error)
    db.session.commit()
    return "", 204


@bp.get("/device")
def external_ip():
    """Works without a token (the app asks before it is registered); a valid token also counts as presence."""
    header = request.headers.get("Authorization")
    if header:
        try:
            device = auth.device_for_header(header)
            auth.touch(device, auth.app_version(request.headers.get("User-Agent")), request.remote_addr)
            db.session.commit()
        except AuthenticationError:
            db.session.rollback()
    return jsonify({"externalIp": request.remote_addr})


def _message_dto(message) -> dict:
    """One §4 message: legacy ``sim`` 0/1 is ``simNumber`` 1/2; WhatsApp/RCS slots travel as ``slot``."""
    dto = {
        "id": str(message.id),
        "message": message.body,
        "textMessage": {"text": message.body},
        "phoneNumbers": [message.phone],
        "withDeliveryReport": True,
        "priority": 100 if message.urgent else 0,
        "state": "Pending",
        "createdAt": iso_millis(message.created_at),
    }
    if message.sim in queue.SMS_SLOTS:
        dto["simNumber"] = message.sim + 1
    else:
        dto["slot"] = message.sim
    if message.media_url:
        dto["mediaUrl"] = message.media_url
    return dto


@bp.get("/message")
@bp.get("/messages")
@device_call
def pull(device):
    order = "fifo" if (request.args.get("order") or "").lower() == "fifo" else "lifo"
    answer = [_message_dto(m) for m in queue.claim_for_device(device, order=order)]
    db.session.commit()
    return jsonify(answer)


@bp.patch("/message")
@bp.patch("/messages")
@device_call
def report(device):
    """Any well-formed body is 204 (the app drops a report after ten refusals): an array of reports, or one
    report object. Every report is applied, ``REPORTS_PER_TRANSACTION`` to a transaction; each is idempotent
    (states only move forward, first times are kept), so a call run again after a deadlock, or repeated by a
    phone whose call was cut short, changes nothing its earlier transactions saved."""
    try:
        body = _json_body()
    except DomainError as error:
        return _fail(error)
    reports = body if isinstance(body, list) else [body]
    for done, item in enumerate(reports, 1):
        if isinstance(item, dict):
            message_id = item.get("id")
            if isinstance(message_id, int) and not isinstance(message_id, bool):
                message_id = str(message_id)
            recipients = item.get("recipients") if isinstance(item.get("recipients"), list) else []
            queue.apply_state_report(device, message_id, item.get("state"), recipients, item.get("states"))
        if done % REPORTS_PER_TRANSACTION == 0:
            db.session.commit()
            turns.let_others_run()
    db.session.commit()
    return "", 204


@bp.get("/settings")
@device_call
def settings(device):
    answer = services.device_settings(device, _version(device))
    db.session.commit()
    return jsonify(answer)


@bp.get("/webhooks")
@device_call
def webhook_list(device):
    answer = services.device_webhooks(device, _version(device), current_app.config["PUBLIC_BASE_URL"])
    db.session.commit()
    return jsonify(answer)


@bp.get("/user/code")
@retry_on_deadlock
def login_code():
    """A one-time pairing code for another phone, asked for with the account's login and password."""
    try:
        scheme, credentials = auth.parse_authorization(request.headers.get("Authorization"))
    except DomainError as error:
        return _fail(error)
    try:
        code, row = services.create_login_code(scheme, credentials, request.remote_addr, current_app.config)
    except AuthenticationError as error:
        return _fail(error, keep=True)
    except DomainError as error:
        return _fail(error)
    answer = {"code": code, "validUntil": iso_millis(row.expires_at)}
    db.session.commit()
    return jsonify(answer)


@bp.patch("/user/password")
@device_call
def password(device):
    try:
        body = _json_body()
        if not isinstance(body, dict) or not isinstance(body.get("currentPassword"), str) \
                or not isinstance(body.get("newPassword"), str):
            raise ValidationError("currentPassword and newPassword are required strings")
    except DomainError as error:
        return _fail(error)
    try:
        services.change_password(device, body["currentPassword"], body["newPassword"], request.remote_addr,
                                 current_app.config)
    except AuthenticationError as error:
        return _fail(error, keep=True)
    except DomainError as error:
        return _fail(error)
    db.session.commit()
    return "", 204


@bp.post("/hooks/<int:device_id>")
@retry_on_deadlock
def hook(device_id):
    """The per-device webhook URL: ``sms:received`` and, as a second path, ``sms:sent/delivered/failed``."""
    try:
        result = webhooks.handle_webhook(
            device_id, request.get_data(), request.headers.get("X-Signature"), request.headers.get("X-Timestamp"),
            current_app.config,
        )
    except DomainError as error:
        return _fail(error)
    db.session.commit()
    return jsonify({"result": result})
