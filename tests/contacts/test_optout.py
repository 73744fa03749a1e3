"""Opt-out keywords from incoming SMS: the whole text, as people type it (any case, full-width letters, punctuation
and emoji around it); pending newsletter messages withdrawn."""
import io
from datetime import timedelta

import pytest

from smsplatform.accounts import services as accounts
from smsplatform.contacts import optout, services
from smsplatform.contacts.importer import MODE_UPSERT, import_contacts
from smsplatform.errors import ConflictError, ValidationError
from smsplatform.extensions import db
from smsplatform.messaging import statuses
from smsplatform.models import Contact, Message, Paket
from smsplatform.timeutil import utcnow
from tests.conftest import create_device


@pytest.fixture
def owner(account):
    return account[0]


def _message(owner, device, phone, *, status=statuses.PENDING, paket=None):
    now = utcnow()
    message = Message(account_id=owner.id, device_id=device.id, sendto=phone, phone=phone, body="hi", status=status,
                      ready=True, due_at=now, paket_id=paket.id if paket else None)
    db.session.add(message)
    db.session.flush()
    return message


@pytest.mark.parametrize("text", ["STOP", " stop\n", "Unsubscribe", "quit", "End", "STOPALL", "cancel"])
def test_default_keywords_opt_out_and_create_the_contact(owner, text):
    now = utcnow()
    assert optout.handle_incoming(owner, "+4915752982212", text, now) == optout.OPTED_OUT
    contact = db.session.query(Contact).one()
    assert contact.opted_out and contact.opted_out_at == now
    assert contact.opt_out_reason == f"replied {' '.join(text.split()).upper()}"


@pytest.mark.parametrize("text", [
    "STOP.", "Stop!", '"STOP"', "“Stop”", "*stop*", "STOP 🛑", "🛑STOP🛑", "STOP\n🙏", "ＳＴＯＰ", "ＳＴＯＰ！",
    "Stop 👍🏽", "STOP ❤️", "STOP 👨\u200d👩\u200d👧", "\u200bStop\ufeff", "🇩🇪 STOP", "STOP!!!\r\n", "(stop)",
])
def test_a_keyword_as_people_type_it_opts_out_with_a_readable_reason(owner, text):
    """Auto-capitalised and punctuated by the keyboard, quoted, decorated with an emoji (skin tone, variation
    selector, ZWJ family, flag) or typed full-width: still STOP, recorded as ``replied STOP``."""
    assert optout.handle_incoming(owner, "+4915752982212", text) == optout.OPTED_OUT
    contact = db.session.query(Contact).one()
    assert contact.opted_out and contact.opt_out_reason == "replied STOP"


@pytest.mark.parametrize("text", ["stop it", "please stop", "don't stop", "Stop, please!", "STOP STOP", "S.T.O.P",
                                  "st🛑op", "🛑", "!!!", "", "   ", "STARTS", "Thanks"])
def test_other_texts_change_nothing(owner, text):
    assert optout.handle_incoming(owner, "+4915752982212", text) is None
    assert db.session.query(Contact).count() == 0


def test_opt_out_withdraws_only_pending_newsletter_messages(owner):
    device = create_device(owner)
    paket, earlier = (Paket(account_id=owner.id, title="t", body="b", device_id=device.id, status="running")
                      for _ in range(2))
    db.session.add_all([paket, earlier])
    db.session.flush()
    pending = _message(owner, device, "+4915752982212", paket=paket)
    taken = _message(owner, device, "+4915752982212", paket=earlier, status=statuses.TAKEN)
    direct = _message(owner, device, "+4915752982212")
    other_number = _message(owner, device, "+4915752982299", paket=paket)
    optout.handle_incoming(owner, "+4915752982212", "STOP")
    db.session.commit()
    db.session.expire_all()
    assert pending.status == statuses.OPTED_OUT and pending.cancelled_at is not None and not pending.ready
    assert (taken.status, direct.status, other_number.status) == (statuses.TAKEN, statuses.PENDING, statuses.PENDING)


def test_start_resubscribes_and_a_second_stop_keeps_the_first_reason(owner):
    first = utcnow() - timedelta(days=1)
    optout.handle_incoming(owner, "+4915752982212", "STOP", first)
    optout.handle_incoming(owner, "+4915752982212", "quit")
    contact = db.session.query(Contact).one()
    assert contact.opt_out_reason == "replied STOP"
    assert optout.handle_incoming(owner, "+4915752982212", "unstop") == optout.RESUBSCRIBED
    assert not contact.opted_out and contact.opted_out_at is None
    assert optout.handle_incoming(owner, "+4915752982299", "START") == optout.RESUBSCRIBED
    assert db.session.query(Contact).count() == 1  # START from a stranger creates no contact


def test_resubscribe_keywords_are_read_the_same_way(owner):
    optout.handle_incoming(owner, "+4915752982212", "Stop.")
    assert optout.handle_incoming(owner, "+4915752982212", "Start! 👍") == optout.RESUBSCRIBED
    assert not db.session.query(Contact).one().opted_out
    optout.handle_incoming(owner, "+4915752982212", "STOP")
    assert optout.handle_incoming(owner, "+4915752982212", "ＵＮＳＴＯＰ") == optout.RESUBSCRIBED


def test_account_keywords_stored_with_punctuation_are_read_as_typed_replies_are(owner):
    """A list saved before keywords were normalised (``Abmelden.``) matches the reply ``abmelden``."""
    owner.optout_keywords = "Abmelden.,  Stopp  Alles! "
    assert optout.handle_incoming(owner, "+4915752982212", "abmelden") == optout.OPTED_OUT
    assert optout.handle_incoming(owner, "+4915752982213", "STOPP ALLES 🙄") == optout.OPTED_OUT
    assert db.session.query(Contact.opt_out_reason).order_by(Contact.phone).all() == [
        ("replied ABMELDEN",), ("replied STOPP ALLES",)]


def test_the_settings_store_each_keyword_as_replies_are_compared(owner):
    accounts.update_settings(owner, optout_keywords="Stop., ＡＢＭＥＬＤＥＮ!,  stop , Straße, quit  now, aıb")
    assert owner.optout_keywords == "STOP,ABMELDEN,STRASSE,QUIT NOW,aıb"
    assert optout.handle_incoming(owner, "+4915752982212", "Abmelden 🙏") == optout.OPTED_OUT
    assert optout.handle_incoming(owner, "+4915752982213", "aıb") == optout.OPTED_OUT  # not upper-cased to AIB
    for typed in ["STOP, 🛑", "...", "STOP," + "x" * 41]:
        with pytest.raises(ValidationError, match="no letter or digit|too long"):
            accounts.update_settings(owner, optout_keywords=typed)
    assert owner.optout_keywords == "STOP,ABMELDEN,STRASSE,QUIT NOW,aıb"


def test_account_keywords_replace_the_defaults(owner):
    owner.optout_keywords = "ABMELDEN,STOPP, "
    assert optout.handle_incoming(owner, "+4915752982212", "STOP") is None
    assert optout.handle_incoming(owner, "+4915752982212", "abmelden") == optout.OPTED_OUT
    assert optout.handle_incoming(owner, "+4915752982213", "start") == optout.RESUBSCRIBED
    owner.optout_keywords = None
    assert optout.handle_incoming(owner, "+4915752982213", "stop") == optout.OPTED_OUT


def test_opt_out_is_per_account(owner, make_account):
    other = make_account(email="other@example.com")[0]
    services.save_contact(other, "+4915752982212", None)
    optout.handle_incoming(owner, "+4915752982212", "STOP")
    assert services.find_contact(other, "+4915752982212").opted_out is False


def test_unparseable_sender_is_ignored(owner):
    assert optout.handle_incoming(owner, "Vodafone", "STOP") is None
    assert optout.handle_incoming(owner, None, "STOP") is None


def test_deleting_an_opted_out_contact_keeps_its_opt_out(owner):
    """Someone who replied STOP must stay unreachable for newsletters and refused direct sends, however the
    number comes back: added by hand, imported, or its old contact deleted first."""
    vip = services.save_tag(owner, "VIP")
    contact = services.create_contact(owner, "+4915752982212", "Anna", [vip.id])
    optout.handle_incoming(owner, "+4915752982212", "STOP")
    assert services.delete_contact(owner, contact.id) is False
    db.session.commit()
    db.session.expire_all()
    assert (contact.phone, contact.name, contact.tags, contact.opted_out) == ("+4915752982212", "", [], True)

    with pytest.raises(ConflictError, match="already a contact on the opt-out list"):  # finds the kept number
        services.create_contact(owner, "0049 1575 2982212", "Anna again")
    report = import_contacts(owner, io.BytesIO(b"phone,name,tags\n+4915752982212,Anna,VIP\n"),
                             commit=db.session.commit, mode=MODE_UPSERT)
    assert report.updated == 1
    db.session.expire_all()
    assert contact.opted_out and contact.name == "Anna" and contact.tags == [vip]

    plain = services.create_contact(owner, "+4915752982299", "Ben")
    assert services.delete_contact(owner, plain.id) is True
    assert db.session.query(Contact).count() == 1


def test_an_opt_out_by_hand_withdraws_waiting_newsletter_messages(owner):
    device = create_device(owner)
    paket = Paket(account_id=owner.id, title="t", body="b", device_id=device.id, status="running")
    db.session.add(paket)
    db.session.flush()
    contact = services.create_contact(owner, "+4915752982212")
    waiting = _message(owner, device, "+4915752982212", paket=paket)
    first = utcnow() - timedelta(hours=1)
    assert optout.opt_out_contact(owner, contact, optout.BY_HAND_REASON, first) == 1
    assert optout.opt_out_contact(owner, contact, "later reason") == 0  # already out: time and reason kept
    db.session.expire_all()
    assert (contact.opted_out_at, contact.opt_out_reason) == (first, optout.BY_HAND_REASON)
    assert waiting.status == statuses.OPTED_OUT
    optout.opt_in_contact(contact)
    db.session.expire_all()
    assert not contact.opted_out and waiting.status == statuses.OPTED_OUT  # withdrawn stays withdrawn
