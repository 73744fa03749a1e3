"""``/getdata/*``: the wire-compatible legacy API. One view per method; each parses, calls a service
and shapes the answer. Every call commits once, at the end; a refused call changes nothing
(except recorded login failures, which must survive the refusal).
"""
import logging
from functools import wraps

from flask import Blueprint, current_app, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from smsplatform.accounts.services import account_for_token, authenticate, login_token, record_token_use
from smsplatform.api.legacy import schemas
from smsplatform.api.legacy.parsing import collect_params, first, parse_json_text, token_of_a_long_form
from smsplatform.api.legacy.responses import fail, human_date, ok, php_date
from smsplatform.campaigns.services import create_paket
from smsplatform.contacts.services import save_contact, save_tag
from smsplatform.db_retry import retry_on_deadlock
from smsplatform.devices import queries as devices
from smsplatform.errors import AuthenticationError, DomainError, ValidationError
from smsplatform.extensions import db
from smsplatform.messaging import listing, statuses
from smsplatform.messaging.service import accept_message_ids, as_text
from smsplatform.models import Account
from smsplatform.request_ids import current_request_id
from smsplatform.storage.services import store_image
from smsplatform.timeutil import utcnow, zone_or_offset

log = logging.getLogger(__name__)
bp = Blueprint("legacy", __name__, url_prefix="/getdata")

ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
METHOD_ALLOWS = "GET, HEAD, POST, OPTIONS"  # the Allow header of every legacy method's path
SAVED = "Sms has been saved successfully"
MESSAGE_FIELDS = ("sendto", "body", "device_id", "sim", "timetosend", "customerid", "urgent")
METHODS: set[str] = set()


@bp.before_request
def _allow_big_batches():
    """Form bodies may use the whole request budget: a 10,000-message PHP form array is legitimate."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    request.max_form_memory_size = limit
    request.max_form_parts = current_app.config["MAX_BATCH_SIZE"] * (len(MESSAGE_FIELDS) + 1) + 100


def legacy_method(name: str, auth: str = "token"):
    """Register a view for ``/getdata/<name>`` (GET and POST). The view gets the merged parameters
    (and the uploaded files, and the token's account when ``auth == "token"``) and returns a response."""
    def register(view):
        @wraps(view)
        def endpoint():
            try:
                if auth == "token" and (token := token_of_a_long_form(request)) is not None:
                    account_for_token(token)  # before a long form is parsed
                params, files = collect_params(request)
                if auth == "token":
                    account = account_for_token(as_text(params.get("token"), "token"))
                    response = view(params, files, account)
                    record_token_use(account)
                else:
                    response = view(params, files)
                db.session.commit()
                return response
            except DomainError as error:
                db.session.rollback()
                return fail(error.message)

        METHODS.add(name)
        # OPTIONS is answered by ``unknown`` (JSON, and only this method's Allow): Flask's own answer would be
        # empty text/html allowing every method of the catch-all route too.
        bp.add_url_rule(f"/{name}", endpoint=name, view_func=retry_on_deadlock(endpoint), methods=["GET", "POST"],
                        provide_automatic_options=False)
        return endpoint
    return register


def _login(params) -> Account:
    """``email`` + ``pass`` under the brute-force limits; a failed attempt is committed before refusing."""
    email = params.get("email")
    password = params.get("pass", params.get("password"))
    if email is None or (isinstance(email, str) and not email.strip()):
        raise ValidationError("email is required", field="email")
    if password is None or password == "":
        raise ValidationError("pass is required", field="pass")
    try:  # a password of digits may arrive as a JSON number
        return authenticate(email, as_text(password, "pass"), request.remote_addr, current_app.config)
    except AuthenticationError:
        db.session.commit()  # the recorded failure must count even though the call is refused
        raise


@legacy_method("gettoken", auth="login")
def gettoken(params, files):
    account = _login(params)
    return ok("OK", token=login_token(account, current_app.config["SECRET_KEY"]))


def _add_sms(params, files, account):
    item = {field: params.get(field) for field in MESSAGE_FIELDS}
    if files:
        item["media"] = _stored_upload(account, files)
        item["body"] = None  # the contract: the image's URL replaces body
    ids = accept_message_ids(account, [item], field_prefix=None, past_means_now=True)  # the contract
    return ok(SAVED, sms_id=ids[0], sms_ids=ids)


def _stored_upload(account, files):
    if len(files) != 1 or files[0][0] != "file":
        raise ValidationError("send exactly one image, in the multipart field named file", field="file")
    upload = files[0][1]
    upload.stream.seek(0)  # a deadlock victim's retry reads the file again
    return store_image(account, upload.filename, upload.read(), upload.mimetype or None)


@legacy_method("addsms")
def addsms(params, files, account):
    return _add_sms(params, files, account)


@legacy_method("smstosend", auth="login")
def smstosend(params, files):
    return _add_sms(params, files, _login(params))


@legacy_method("addalotofsms")
def addalotofsms(params, files, account):
    items = params.get("smsdata")
    if items is None:
        raise ValidationError("smsdata is required: a list of messages (in datajson or the body)", field="smsdata")
    if isinstance(items, str):  # some clients send the list itself as a JSON string
        items = parse_json_text(items, "smsdata")
    if not isinstance(items, list):
        raise ValidationError("smsdata must be a list of messages", field="smsdata")
    ids = accept_message_ids(account, items, past_means_now=True)  # the contract: a past time means now
    return ok(SAVED, sms_ids=ids)


@legacy_method("getallsms")
def getallsms(params, files, account):
    query = schemas.ListSmsSchema().load(params)
    tz = zone_or_offset(query["timezone"] or account.timezone)
    found = listing.list_messages(account, listing.Filters(
        device_id=query["device_id"], status=query["status"], begin=query["begindate"], end=query["enddate"],
        sim=query["sim"], customer_id=query["customerid"], phone=query["phone"], timezone=tz,
        descending=query["orderbydesc"], limit=query["limit"], offset=query["offset"] or 0,
        only_count=query["onlycount"],
    ))
    if query["onlycount"]:
        return ok("Ok", count=found.count)
    smss = {
        str(row.id): {
            "id": row.id, "sendto": row.phone, "body": row.body, "customerid": row.customer_id,
            "status": row.status, "statustitle": statuses.title(row.status), "deviceid": row.device_id,
            "urgent": True if row.urgent else None, "created": php_date(row.created_at, tz),
            "senttime": php_date(row.sent_at, tz), "timetosend": php_date(row.time_to_send, tz), "sim": row.sim,
            "paketid": row.paket_id, "pakettitle": row.paket_title, "paketbody": row.paket_body,
        }
        for row in found.rows
    }
    return ok("Ok", count=found.count, smss=smss)


@legacy_method("getsmsstatus")
def getsmsstatus(params, files, account):
    message = listing.get_message(account, schemas.SmsStatusSchema().load(params)["sms_id"])
    return ok("OK", sms_id=message.id, status=message.status, status_description=statuses.title(message.status))


@legacy_method("savetag")
def savetag(params, files, account):
    title = schemas.SaveTagSchema().load(params)["title"]
    return ok("Ok", tag_id=save_tag(account, title).id)


@legacy_method("savecontact")
def savecontact(params, files, account):
    given = {"phone": params.get("phone"), "tag_id": first(params, "tag_id", "ctag_id"),
             "name": first(params, "fullname", "name")}
    values = schemas.SaveContactSchema().load({key: value for key, value in given.items() if value is not None})
    name_field = "name" if first(params, "fullname") in (None, "") and "name" in params else "fullname"
    contact = save_contact(account, values["phone"], values["tag_id"], name=values["name"], name_field=name_field)
    return ok("ok", contact_id=contact.id)


@legacy_method("savepaket")
def savepaket(params, files, account):
    values = schemas.SavePaketSchema().load(params)
    paket = create_paket(
        account, title=values["title"], body=values["body"], device_id=values["device_id"],
        sim=values["sim"], tag_ids=values["tags"], time_to_send=values["time_to_send"],
        past_means_now=True,  # the contract: a time in the past means "send now"
    )
    return ok("Ok", paket_id=paket.id)


@legacy_method("getalldevices")
def getalldevices(params, files, account):
    tz = zone_or_offset(schemas.TimezoneSchema().load(params)["timezone"] or account.timezone)
    found = devices.list_devices(account)
    return ok("OK", count=len(found), device={str(device.id): _device(device, tz) for device in found})


def _device(device, tz) -> dict:
    return {
        "id": device.id, "title": device.name, "number": device.phone_number, "imei": device.imei,
        "created": php_date(device.created_at, tz), "createdhumanformat": human_date(device.created_at, tz),
        "lastseen": php_date(device.last_seen_at, tz), "lastseenhumanformat": human_date(device.last_seen_at, tz),
        "serialnumber": device.serial_number, "siminfo": _siminfo(device.sim_cards),
        "appversion": device.app_version, "isappversionactual": devices.is_app_version_actual(device.app_version),
        "delaybetweeneachsms": device.delay_between_each_sms, "delaybetweenrequest": device.delay_between_request,
        "subscription": bool(device.subscription),
    }


def _siminfo(sim_cards) -> list[dict]:
    """The phone's ``simCards`` in the original's shape (all strings, as its Android app reported them)."""
    cards = []
    for card in sim_cards or []:
        if not isinstance(card, dict):
            continue
        slot = card.get("slotIndex")
        cards.append({
            "Slot": str(slot if slot is not None else len(cards)), "IccId": card.get("iccid") or "",
            "Number": card.get("phoneNumber") or "", "Roaming": "1" if card.get("roaming") else "0",
            "CountryIso": card.get("countryIso") or "", "CarrierName": card.get("carrierName") or "",
        })
    return cards


@legacy_method("getdevicestatus")
def getdevicestatus(params, files, account):
    values = schemas.DeviceStatusSchema().load(params)
    device = devices.get_device(account, values["device_id"])
    tz = zone_or_offset(values["timezone"] or account.timezone)
    now = utcnow()
    seen = device.last_seen_at
    return ok(
        "OK", online=devices.is_online(device, current_app.config, now), device_id=device.id,
        lastseen=php_date(seen, tz), diffseconds=int((now - seen).total_seconds()) if seen else None,
        title=device.name,
    )


@bp.route("/", defaults={"rest": ""}, methods=ANY_METHOD)
@bp.route("/<path:rest>", methods=ANY_METHOD)
def unknown(rest):
    name = rest.strip("/")
    if name in METHODS:
        if request.method == "OPTIONS":
            response = ok()
        else:
            response = fail(f"HTTP method {request.method} is not allowed; use GET or POST", 405)
        response.headers["Allow"] = METHOD_ALLOWS
        return response
    if name.lower() in METHODS:
        return fail(f"unknown method {name[:60]!r}; method names are lower case: {name.lower()}", 404)
    known = ", ".join(sorted(METHODS))
    return fail(f"unknown method {name[:60]!r}; the methods are {known}", 404)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error):
    db.session.rollback()
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    return fail(f"the request is too large: at most {limit} bytes are accepted", 413)


@bp.errorhandler(HTTPException)
def _http_error(error):
    """Other refusals werkzeug raises while reading a request (a malformed body) are legacy errors: HTTP 200."""
    db.session.rollback()
    code = error.code or 500
    return fail(error.description or error.name, code if code >= 500 else 200)


@bp.errorhandler(Exception)
def _server_error(error):
    db.session.rollback()
    log.exception("legacy API call %s %s failed", request.method, request.path)  # the path only: a query holds the token
    return fail(f"internal server error; the request was not saved (request id {current_request_id()})", 500)
