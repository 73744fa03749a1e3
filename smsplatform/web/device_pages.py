"""Devices: list with presence, add (pairing code, QR, enrolment token), settings, remove."""
import qrcode
import qrcode.image.svg
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required
from markupsafe import Markup

from smsplatform.db_retry import retry_on_deadlock
from smsplatform.devices import pairing
from smsplatform.devices.queries import get_device, is_online, list_devices
from smsplatform.devices import services
from smsplatform.extensions import db
from smsplatform.models import Device
from smsplatform.timeutil import utcnow
from smsplatform.web import queries
from smsplatform.web.blueprint import bp, counted, me, saving
from smsplatform.web.forms import DeviceSettingsForm, RemoveDeviceForm, device_choices, opts, show_error

MOBILE_API_PATH = "/api/mobile/v1"


def _qr_svg(text: str) -> Markup:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    return Markup(image.to_string(encoding="unicode"))


@bp.route("/devices")
@login_required
def devices():
    account = me()
    rows = list_devices(account)
    _overall, per_device = queries.totals(account)
    now = utcnow()
    online = {d.id: is_online(d, current_app.config, now) for d in rows}
    return render_template("web/devices.html", devices=rows, online=online, per_device=per_device,
                           empty=queries.Totals())


@bp.route("/devices/add", methods=["GET", "POST"])
@login_required
def add_device():
    """GET shows the instructions; POST mints a fresh one-time code (and, if asked, a new enrolment token)."""
    account = me()
    server = current_app.config["PUBLIC_BASE_URL"] + MOBILE_API_PATH
    code = enrolment_token = qr = None
    ttl = current_app.config["PAIRING_CODE_TTL_SECONDS"]
    had_token = account.enrolment_token_hash is not None
    if request.method == "POST":
        code, _row = pairing.create_pairing_code(account, ttl)
        if request.form.get("rotate_token"):
            enrolment_token = pairing.rotate_enrolment_token(account)
        db.session.commit()
        qr = _qr_svg(f"{server}\n{code}")
    return render_template("web/add_device.html", server=server, code=code, qr=qr, ttl_minutes=ttl // 60,
                           server_problem=pairing.server_address_problem(server),
                           enrolment_token=enrolment_token, has_token=account.enrolment_token_hash is not None,
                           had_token=had_token)


@bp.route("/devices/<int:device_id>", methods=["GET", "POST"])
@login_required
def device(device_id: int):
    account = me()
    dev = get_device(account, device_id)  # foreign and revoked ids alike: NotFoundError, the 404 page
    form = DeviceSettingsForm(obj=dev if request.method == "GET" else None)
    remove_form = _remove_form(account, dev)
    if form.validate_on_submit():
        with saving(lambda exc: show_error(form, exc, "name")) as saved:
            services.update_device_settings(
                account, dev.id, name=form.name.data, delay_between_each_sms=form.delay_between_each_sms.data,
                delay_between_request=form.delay_between_request.data, plus_prefixes=form.plus_prefixes.data or "")
        if saved.ok:
            flash("Device settings saved.", "success")
            return redirect(url_for("web.device", device_id=dev.id))
    return _device_page(dev, form, remove_form), 400 if form.errors else 200


# Moving or cancelling the queue and a phone's claim may deadlock on the queue index (MariaDB rolls one
# back): run the whole request again (what the rolled-back run asked for, wake-ups included, is gone).
@bp.route("/devices/<int:device_id>/remove", methods=["POST"])
@login_required
@retry_on_deadlock
def remove_device(device_id: int):
    account = me()
    dev = get_device(account, device_id)
    form = _remove_form(account, dev)
    if form.validate_on_submit():
        moved = 0
        with saving(lambda exc: show_error(form, exc, "target_device_id")) as saved:
            if form.queued.data == "move":
                moved = services.move_pending_messages(account, dev.id, form.target_device_id.data)
            services.revoke_device(account, dev.id)
        if saved.ok:
            flash(f"{dev.name} removed." + (f" {counted(moved, 'queued message')} moved." if moved else
                                            " Its queued messages were cancelled." if form.queued.data == "fail"
                                            else ""), "success")
            return redirect(url_for("web.devices"))
    return _device_page(dev, DeviceSettingsForm(obj=dev), form), 400


def _remove_form(account, dev: Device) -> RemoveDeviceForm:
    form = RemoveDeviceForm()
    form.target_device_id.choices = opts(device_choices(d for d in list_devices(account) if d.id != dev.id))
    return form


def _device_page(dev: Device, form, remove_form):
    totals = queries.device_totals(me(), dev.id)
    return render_template("web/device.html", device=dev, form=form, remove_form=remove_form, totals=totals,
                           online=is_online(dev, current_app.config))
