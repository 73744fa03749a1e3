"""Send, message history (filter, timeline, CSV and Excel export) and the inbox."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import login_required

from smsplatform.db_retry import retry_on_deadlock
from smsplatform.devices.queries import list_devices
from smsplatform.errors import ValidationError
from smsplatform.extensions import db
from smsplatform.messaging import cancelling
from smsplatform.messaging.export import exported_rows
from smsplatform.messaging.service import accept_messages
from smsplatform.models import Message
from smsplatform.phones import normalize_phone
from smsplatform.timeutil import to_zone, utcnow
from smsplatform.web import queries
from smsplatform.web.blueprint import (back_to_list, bp, counted, form_time, in_form_words, me, owned, saving,
                                      spreadsheet_download, too_large_page)
from smsplatform.web.channels import channel_offered, fill_choices
from smsplatform.web.forms import MessageFilterForm, ReplyForm, SendForm, device_choices, opts, show_error
from smsplatform.web.live import message_list_refresh, message_refresh
from smsplatform.web.uploads import store_upload, upload_too_large

# accept_messages names its fields after the legacy API; the send form names them after its inputs, and its
# errors name them as the person filling it in does.
_SEND_FIELDS = {"sendto": "recipients", "timetosend": "send_at", "file": "image", "media": "image"}
_SEND_WORDS = {"sendto": "recipient", "timetosend": "the send time", "body": "the message", "file": "the image",
               "media": "the image"}
NO_PHONE = "no phone is paired yet: pair one on the Devices page first"
EXPORT_BATCH = 1000
# The message list's query arguments (its filter and page), which its "Cancel selected" returns to.
_LIST_ARGS = frozenset({"status", "direction", "device_id", "sim", "date_from", "date_to", "number", "paket_id",
                        "page"})


@bp.route("/send", methods=["GET", "POST"])
@login_required
def send():
    account = me()
    page = _SendPage(account)
    form = page.form
    if request.method == "GET" and request.args.get("to"):
        form.recipients.data = request.args["to"][:64]
    valid = form.validate_on_submit()
    if form.is_submitted() and not page.devices:
        form.device_id.errors = [NO_PHONE]  # in place of WTForms' "could not coerce" of the empty select
        valid = False
    elif form.is_submitted() and not channel_offered(form.device_id, form.sim, page.channels):
        valid = False
    if valid:
        numbers = [n.strip() for n in form.recipients.data.replace("\n", ",").split(",") if n.strip()]
        with saving(lambda exc: show_error(form, in_form_words(exc, _SEND_WORDS), renamed=_SEND_FIELDS)) as saved:
            if not numbers:
                raise ValidationError("give at least one recipient", field="recipients")
            media = store_upload(account, form.image.data)
            item = {
                "sendto": ",".join(numbers), "body": form.body.data, "device_id": form.device_id.data,
                "sim": form.sim.data, "urgent": form.urgent.data, "media": media,
                "timetosend": form_time(form.send_at.data),
            }
            messages = accept_messages(account, [item], field_prefix=None)
        if saved.ok:
            flash(_queued(messages, account.timezone), "success")
            return redirect(url_for("web.messages"))
    return page.render(), 400 if form.errors else 200


class _SendPage:
    """The Send form, its selects filled in from the account's phones, and the page showing it."""

    def __init__(self, account, **form_kwargs):
        self.devices = list_devices(account)
        self.form = SendForm(**form_kwargs)
        self.channels = fill_choices(self.form.device_id, self.form.sim, self.devices)

    def render(self) -> str:
        return render_template("web/send.html", form=self.form, devices=self.devices, channels=self.channels)


@too_large_page(send)
def _send_too_large():
    page = _SendPage(me(), formdata=None)
    show_error(page.form, in_form_words(upload_too_large(), _SEND_WORDS), renamed=_SEND_FIELDS)
    return page.render(), 413


def _queued(messages: list[Message], tz_name: str) -> str:
    """What the flash says of messages just accepted: queued, scheduled for their time, or sent now after all."""
    count = f"{len(messages)} message{'s' if len(messages) != 1 else ''}"
    first = messages[0]
    if first.time_to_send is None:
        return f"{count} queued."
    when = f"{to_zone(first.time_to_send, tz_name).strftime('%Y-%m-%d %H:%M')} ({tz_name})"
    if not first.ready:
        return f"{count} scheduled for {when}."
    return f"{count} queued to send now: the send time {when} had just passed."


def _filter_from(form: MessageFilterForm, account) -> queries.MessageFilter | None:
    """The filter the form describes, or None (with errors beside the fields) when it is malformed."""
    form.validate()
    flt = queries.MessageFilter(status=form.status.data or "", direction=form.direction.data or "")
    for name in ("device_id", "paket_id", "sim"):
        value = (getattr(form, name).data or "").strip()
        if value:
            if not (value.isascii() and value.isdigit()) or len(value) > 18:
                getattr(form, name).errors = [*getattr(form, name).errors, "choose one from the list"]
            else:
                setattr(flt, name, int(value))
    if form.number.data and form.number.data.strip():
        try:
            flt.phone = normalize_phone(form.number.data.strip(), account.default_region, field="number").normalized
        except ValidationError as exc:
            show_error(form, exc, "number")
    if form.date_from.data and form.date_to.data and form.date_from.data > form.date_to.data:
        form.date_to.errors = [*form.date_to.errors, "must not be before “From”"]
    flt.since, flt.until = queries.local_day_bounds(form.date_from.data, form.date_to.data, account.timezone)
    return None if form.errors else flt


@bp.route("/messages")
@login_required
def messages():
    account = me()
    form = MessageFilterForm(request.args)
    form.device_id.choices = opts([("", "Any")] + [(str(i), n) for i, n in device_choices(list_devices(account))])
    form.paket_id.choices = opts([("", "Any")] + [(str(p.id), p.title) for p in queries.account_pakets(account)])
    flt = _filter_from(form, account)
    page = None
    if flt is not None:
        page = queries.paginate(queries.messages_query(account, flt), request.args.get("page", 1, type=int))
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    cancellable = {m.id for m in page.items if cancelling.can_cancel(m)} if page else set()
    live = message_list_refresh(page.items, utcnow(), page.number == 1) if page is not None else None
    return render_template("web/messages.html", form=form, page=page, args=args,
                           cancellable=cancellable, live=live), 200 if flt else 400


@bp.route("/messages/export.csv")
@login_required
def export_messages():
    """The filtered messages as CSV (``?delimiter=comma`` or ``semicolon``)."""
    return spreadsheet_download(_message_rows(), "messages", request.args.get("delimiter") or "comma")


@bp.route("/messages/export.xlsx")
@login_required
def export_messages_xlsx():
    return spreadsheet_download(_message_rows(), "messages", "xlsx")


def _message_rows():
    """The rows of the filtered messages' export, the header first; 400 for a bad filter (before any row)."""
    account = me()
    flt = _filter_from(MessageFilterForm(request.args), account)
    if flt is None:
        abort(400)
    query = queries.messages_query(account, flt).execution_options(yield_per=EXPORT_BATCH)

    def messages():  # run as the download is written: MariaDB's streamed result must not wait beside other queries
        yield from db.session.scalars(query)

    return exported_rows(messages(), account.timezone)


@bp.route("/messages/<int:message_id>")
@login_required
def message(message_id: int):
    msg = owned(Message, message_id)
    return render_template("web/message.html", message=msg, steps=queries.timeline(msg),
                           cancel_refusal=cancelling.why_not(msg), live=message_refresh(msg, utcnow()))


# The cancel's UPDATE and a phone's claim may deadlock on the queue index (MariaDB rolls one back): run again.
@bp.route("/messages/<int:message_id>/cancel", methods=["POST"])
@login_required
@retry_on_deadlock
def cancel_message(message_id: int):
    msg = owned(Message, message_id)
    with saving(lambda exc: flash(exc.message[:1].upper() + exc.message[1:] + ".", "error")) as saved:
        cancelling.cancel_message(me(), msg.id)
    if saved.ok:
        flash(f"Message #{msg.id} cancelled: it will not be sent.", "success")
    return redirect(url_for("web.message", message_id=msg.id))


@bp.route("/messages/cancel", methods=["POST"])
@login_required
@retry_on_deadlock
def cancel_messages():
    """The message list's "Cancel selected"; back to the list as it was filtered (the form's action carries
    the filter). Another account's id (or one past a BIGINT) is the 404 page, and nothing is cancelled."""
    back = back_to_list("web.messages", _LIST_ARGS)
    try:
        outcome = cancelling.cancel_messages(me(), request.form.getlist("message_ids"))
    except ValidationError as exc:
        db.session.rollback()
        flash(f"Nothing cancelled: {exc.message}.", "error")
        return redirect(back)
    db.session.commit()
    flash(_cancel_report(outcome), "success" if outcome.cancelled else "error")
    return redirect(back)


def _cancel_report(outcome: cancelling.CancelOutcome) -> str:
    parts = [f"{counted(outcome.cancelled, 'message')} cancelled."]
    if outcome.on_phone:
        parts.append(f"{counted(outcome.on_phone, 'message')} already handed to the phone: this server cannot take "
                     f"{'them' if outcome.on_phone != 1 else 'it'} back.")
    if outcome.newsletter:
        parts.append(f"{counted(outcome.newsletter, 'message')} of a newsletter: pause or cancel the newsletter on its page.")
    if outcome.done:
        parts.append(f"{counted(outcome.done, 'message')} already sent, failed or cancelled.")
    return " ".join(parts)


@bp.route("/inbox")
@login_required
def inbox():
    page = queries.conversations(me(), request.args.get("page", 1, type=int))
    return render_template("web/inbox.html", page=page)


@bp.route("/inbox/conversation", methods=["GET", "POST"])
@login_required
def conversation():
    account = me()
    phone = (request.args.get("phone") or "").strip()[:64]
    page = queries.conversation(account, phone, request.args.get("page", 1, type=int)) if phone else None
    names = queries.contact_names(account, [phone]) if phone else {}
    # A contact with no messages yet has an empty conversation; any other number without messages (another
    # account's, or none) is the 404 page.
    if page is None or not (page.items or phone in names):
        abort(404)
    name = names.get(phone)
    form = ReplyForm()
    reply_from = queries.reply_route(account, phone)
    if form.validate_on_submit():
        with saving(lambda exc: show_error(form, exc, "body")) as saved:  # the reply has no other field
            if reply_from is None:
                raise ValidationError("no paired phone can send this reply", field="body")
            accept_messages(account, [{"sendto": phone, "body": form.body.data, "device_id": reply_from.device_id,
                                       "sim": reply_from.sim}], field_prefix=None)
        if saved.ok:
            flash("Reply queued.", "success")
            return redirect(url_for("web.conversation", phone=phone))
    return render_template("web/conversation.html", page=page, phone=phone, name=name, form=form,
                           reply_from=reply_from), 400 if form.errors else 200
