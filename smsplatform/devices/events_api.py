"""``GET /api/mobile/v1/events``: the phone's Server-Sent Events stream.

The request authenticates with the device token, commits, and gives its database connection back
before the first byte is streamed: an idle stream then holds only a greenlet (gevent workers) and a
queue in the process's event hub. Every open stream of a device gets every event for it.
"""
import time

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import update

from smsplatform import events
from smsplatform.devices.auth import device_for_header, touch
from smsplatform.errors import AuthenticationError
from smsplatform.events.bus import SETTINGS_UPDATED, WEBHOOKS_UPDATED
from smsplatform.extensions import db
from smsplatform.models import Device
from smsplatform.timeutil import utcnow

bp = Blueprint("mobile_events", __name__, url_prefix="/api/mobile/v1")

KEEPALIVE = b":keepalive\n\n"


def frame(event: str) -> bytes:
    """One SSE event. The app drops events without a ``data:`` line, so payload-less events say ``null``."""
    return f"event: {event}\ndata: null\n\n".encode()


@bp.get("/events")
def stream_events():
    try:
        device = device_for_header(request.headers.get("Authorization"))
    except AuthenticationError as error:
        return jsonify({"message": error.message}), 401
    device_id = device.id
    now = utcnow()
    touch(device, None, request.remote_addr, now=now)
    first_stream = db.session.execute(
        update(Device).where(Device.id == device_id, Device.first_stream_at.is_(None)).values(first_stream_at=now)
    ).rowcount == 1
    db.session.commit()
    db.session.remove()  # the stream must not keep a connection (or a transaction) open

    app = current_app._get_current_object()
    subscription = events.subscribe(device_id, app=app)
    initial = [WEBHOOKS_UPDATED, SETTINGS_UPDATED] if first_stream else []
    response = Response(
        _stream(app, subscription, initial), mimetype="text/event-stream", direct_passthrough=True,
    )
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass every frame through at once
    return response


def _stream(app, subscription, initial: list[str]):
    keepalive = max(0.05, float(app.config["EVENTS_KEEPALIVE_SECONDS"]))
    presence_every = max(1.0, float(app.config["EVENTS_PRESENCE_SECONDS"]))
    next_presence = time.monotonic() + presence_every
    try:
        # A comment first: proxies and clients see the stream open at once.
        yield KEEPALIVE
        for event in initial:
            yield frame(event)
        while True:
            event = subscription.get(timeout=keepalive)
            yield frame(event) if event is not None else KEEPALIVE
            if time.monotonic() >= next_presence:
                if not _mark_seen(app, subscription.device_id):
                    return  # revoked meanwhile: its stream ends too
                next_presence = time.monotonic() + presence_every
    finally:
        subscription.close()


def _mark_seen(app, device_id: int) -> bool:
    """A short transaction of its own: the open stream keeps the device "online". False once it is revoked."""
    with app.app_context():
        try:
            live = db.session.execute(
                update(Device).where(Device.id == device_id, Device.revoked_at.is_(None))
                .values(last_seen_at=utcnow(), marked_offline_at=None)
            ).rowcount > 0
            db.session.commit()
            return live
        except Exception:  # the database being briefly away must not cut the stream
            db.session.rollback()
            app.logger.exception("events: could not record presence of device %s", device_id)
            return True
        finally:
            db.session.remove()
