"""``GET /api/mobile/v1/events``: the phone's Server-Sent Events stream.

The request authenticates with the device token, commits, and gives its database connection back
before the first byte is streamed: an idle stream then holds only a greenlet (gevent workers) and a
queue in the process's event hub. Every open stream of a device gets every event for it.
"""
import time

from flask import Blueprint, Response, current_app, jsonify, request

from smsplatform import events
from smsplatform.devices import services
from smsplatform.devices.auth import device_for_header
from smsplatform.errors import AuthenticationError
from smsplatform.extensions import db

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
    initial = services.open_event_stream(device, request.remote_addr)
    db.session.commit()
    db.session.remove()  # the stream must not keep a connection (or a transaction) open

    app = current_app._get_current_object()
    subscription = events.subscribe(device_id, app=app)
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
    """``services.stream_presence`` in a short transaction of its own. False once the device is revoked."""
    with app.app_context():
        try:
            live = services.stream_presence(device_id)
            db.session.commit()
            return live
        except Exception:  # the database being briefly away must not cut the stream
            db.session.rollback()
            app.logger.exception("events: could not record presence of device %s", device_id)
            return True
        finally:
            db.session.remove()
