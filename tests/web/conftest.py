"""Dashboard fixtures: a signed-in client, and a second account owning one object of every kind."""
import hashlib
import re
import secrets
from contextlib import contextmanager
from datetime import timedelta

import pytest
from flask import g
from sqlalchemy import event, select

from smsplatform import create_app
from smsplatform.accounts import services as accounts
from smsplatform.campaigns import services as campaigns
from smsplatform.contacts import services as contacts
from smsplatform.extensions import db
from smsplatform.messaging import queue
from smsplatform.messaging.service import accept_messages
from smsplatform.models import DashboardSession, Device, Message
from smsplatform.timeutil import utcnow
from tests.conftest import create_device

PASSWORD = "correct horse battery"


def add_device(account, name="Pixel", sim_cards=None, slots="", seen=True) -> Device:
    return create_device(account, name, slots,
                         sim_cards=sim_cards if sim_cards is not None else [{"slotIndex": 0}, {"slotIndex": 1}],
                         last_seen_at=utcnow() if seen else None, app_version="1.68.0", battery_level=80)


def add_incoming(device, phone, text, at=None) -> Message:
    """An SMS from ``phone`` that ``device`` received, stored at ``at`` as the phone's report stores it."""
    at = at or utcnow()
    return queue.record_incoming(device, phone=phone, text=text, received_at=at, external_id=secrets.token_hex(8),
                                 now=at)


@contextmanager
def statements():
    """The SQL statements run inside the block, to pin how a page reads the database."""
    seen: list[str] = []

    def record(_connection, _cursor, statement, _parameters, _context, _executemany):
        seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


@contextmanager
def loaded_messages():
    """The ids of the Message rows loaded into objects inside the block, to pin that a page reads only
    one page of rows (not, say, a whole thread)."""
    loaded: list[int] = []

    def record(message, _context):
        loaded.append(message.id)

    event.listen(Message, "load", record)
    try:
        yield loaded
    finally:
        event.remove(Message, "load", record)


def message_counts(seen: list[str]) -> list[str]:
    """The statements among ``seen`` that count messages by some grouping."""
    return [s for s in seen if "FROM messages" in s and "GROUP BY" in s]


@pytest.fixture(autouse=True)
def _fresh_user_per_request(app):
    """The shared ``app`` fixture keeps one app context (and so one ``g``) across test requests; in a
    server every request has its own. Forget Flask-Login's per-request user so each request loads it."""
    @app.before_request
    def _forget_user():
        g.pop("_login_user", None)


def login(client, email, password=PASSWORD):
    return client.post("/login", data={"email": email, "password": password})


def session_started_ago(client, seconds: float) -> None:
    """Move the start of the client's dashboard session ``seconds`` back (its row's ``created_at``)."""
    with client.session_transaction() as stored:
        session_id = stored["sid"]
    row = db.session.scalar(select(DashboardSession).where(
        DashboardSession.id_hash == hashlib.sha256(session_id.encode()).hexdigest()))
    row.created_at -= timedelta(seconds=seconds)
    db.session.commit()


def csrf_token(html: str) -> str:
    """The CSRF token of the page's (first) form."""
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def client_with_a_size_limit(app, base_config, web, account, csrf: bool, limit: int = 1024 * 1024):
    """A client signed in as ``account`` whose requests past ``limit`` bytes are refused: ``web`` (CSRF off, as
    in the other tests) or, with ``csrf``, a client of a new app with CSRF on, as in production, where the
    token check reads the form, and meets the limit, before any view runs."""
    if not csrf:
        app.config["MAX_CONTENT_LENGTH"] = limit
        return web
    client = create_app({**base_config, "WTF_CSRF_ENABLED": True, "MAX_CONTENT_LENGTH": limit}).test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": account.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return client


def sign_out(client, html: str, csrf: bool) -> None:
    """Sign out with the token of ``html``, a page the client was shown (when CSRF is on)."""
    assert client.post("/logout", data={"csrf_token": csrf_token(html)} if csrf else {}).status_code == 302


@pytest.fixture
def me(make_account):
    account, _token = make_account(email="me@example.com")
    return account


@pytest.fixture
def web(client, me):
    """A test client signed in as ``me``."""
    response = login(client, "me@example.com")
    assert response.status_code == 302, response.data
    return client


@pytest.fixture
def device(me):
    dev = add_device(me)
    db.session.commit()
    return dev


def tag_with_one_contact(account, title: str, phone: str, name: str):
    tag = contacts.create_tag(account, title)
    contacts.create_contact(account, phone, name, [tag.id])
    db.session.commit()
    return tag


@pytest.fixture
def vip(me):
    """``me``'s tag VIP, with one contact (Ada Lovelace)."""
    return tag_with_one_contact(me, "VIP", "+4915100000001", "Ada Lovelace")


@pytest.fixture
def berlin(me):
    """``me``'s tag Berlin, with one contact (Grace Hopper)."""
    return tag_with_one_contact(me, "Berlin", "+4915100000002", "Grace Hopper")


@pytest.fixture
def theirs(make_account):
    """Another account with a device, token, tag, contact, newsletter, outgoing and incoming message."""
    account, _token = make_account(email="them@example.com")
    dev = add_device(account, name="Their phone")
    tag = contacts.create_tag(account, "VIP")
    contact = contacts.create_contact(account, "+4915111111111", "Their Contact", [tag.id])
    paket = campaigns.create_paket(account, title="Theirs", body="Hi {name}", device_id=dev.id, sim=0,
                                   tag_ids=[tag.id], time_to_send=None, schedule=False)
    [message] = accept_messages(account, [{"sendto": "+4915122222222", "body": "secret", "device_id": dev.id}],
                                field_prefix=None)
    incoming = add_incoming(dev, "+4915133333333", "their inbox", utcnow() - timedelta(minutes=1))
    accounts.issue_token(account, "theirs")
    db.session.commit()
    token = accounts.list_tokens(account)[0]
    return {"account": account, "device": dev, "tag": tag, "contact": contact, "paket": paket,
            "message": message, "incoming": incoming, "token": token}
