"""Contacts saved as bare national digits get their international number once the account has a region,
merging into the contact that already has it (tags, messages, opt-out kept)."""
from datetime import timedelta

from sqlalchemy import func, select

from smsplatform.accounts import services as accounts
from smsplatform.campaigns import services as campaigns
from smsplatform.contacts import optout, services
from smsplatform.contacts.renumbering import Renumbered, renumber_national_contacts
from smsplatform.extensions import db
from smsplatform.messaging import statuses
from smsplatform.models import Contact, Message, contact_tags
from smsplatform.timeutil import utcnow
from tests.conftest import create_device


def _contacts(account) -> dict[str, Contact]:
    db.session.expire_all()
    return {c.phone: c for c in db.session.scalars(select(Contact).where(Contact.account_id == account.id))}


def _message(account, device, contact, *, paket=None, status=statuses.PENDING):
    now = utcnow()
    message = Message(account_id=account.id, device_id=device.id, sendto=contact.phone_raw, phone=contact.phone,
                      body="hi", status=status, ready=True, due_at=now, contact_id=contact.id,
                      paket_id=paket.id if paket else None)
    db.session.add(message)
    db.session.flush()
    return message


def test_setting_the_region_renumbers_national_contacts_and_merges_duplicates(make_account):
    account, _ = make_account(timezone="UTC")  # sign-up in UTC: no default region, national numbers stay digits
    other, _ = make_account(timezone="UTC")
    device = create_device(account, "Pixel")
    vip, news = services.create_tag(account, "VIP"), services.create_tag(account, "News")
    anna_national = services.create_contact(account, "0170 1234567", name="Anna", tag_ids=[vip.id])
    anna = services.create_contact(account, "+49 170 1234567", tag_ids=[news.id])
    bob = services.create_contact(account, "0171 9998888", name="Bob")
    bob_without_trunk = services.create_contact(account, "171 9998888", tag_ids=[news.id])
    carla = services.create_contact(account, "0151 2223334", name="Carla")
    too_long = services.create_contact(account, "01701234567890123", name="Too long for an international number")
    theirs = services.create_contact(other, "0170 1234567", name="Someone else's")
    history = _message(account, device, anna_national, status=statuses.DELIVERED)
    db.session.commit()
    gone = [anna_national.id, bob_without_trunk.id]
    assert {anna_national.phone, bob.phone, bob_without_trunk.phone, carla.phone} == {
        "01701234567", "01719998888", "1719998888", "01512223334"}

    renumbered = accounts.update_settings(account, default_region="DE")
    db.session.commit()
    assert renumbered == Renumbered(contacts=4, merged=2)
    contacts = _contacts(account)
    assert set(contacts) == {"+491701234567", "+491719998888", "+491512223334", "01701234567890123"}
    merged = contacts["+491701234567"]
    assert merged.id == anna.id and merged.name == "Anna" and merged.phone_raw == "+49 170 1234567"
    assert {t.title for t in merged.tags} == {"VIP", "News"}
    assert db.session.get(Message, history.id).contact_id == anna.id
    bob_now = contacts["+491719998888"]
    assert bob_now.id == bob.id and bob_now.name == "Bob" and {t.title for t in bob_now.tags} == {"News"}
    assert contacts["+491512223334"].id == carla.id and contacts["+491512223334"].phone_raw == "0151 2223334"
    assert contacts["01701234567890123"].id == too_long.id
    assert [db.session.get(Contact, contact_id) for contact_id in gone] == [None, None]
    assert db.session.scalars(select(contact_tags.c.contact_id).where(contact_tags.c.contact_id.in_(gone))).all() == []
    assert _contacts(other)["01701234567"].id == theirs.id  # another account's contacts are its own business

    # A contact saved now with the national spelling is the same person.
    assert services.save_contact(account, "0170 1234567", None).id == anna.id
    # Nothing left to do: saving the same region again, or none, renumbers nothing.
    assert accounts.update_settings(account, default_region="DE") is None
    assert accounts.update_settings(account, timezone="Europe/Berlin") is None
    assert renumber_national_contacts(account) == Renumbered(0, 0)


def test_an_opt_out_of_either_spelling_survives_the_merge_and_withdraws_waiting_newsletters(make_account):
    account, _ = make_account(timezone="UTC")
    device = create_device(account, "Pixel")
    stopped_at = utcnow() - timedelta(days=3)
    national = services.create_contact(account, "0170 1234567", name="Anna")
    optout.opt_out_contact(account, national, "replied STOP", now=stopped_at)
    international = services.create_contact(account, "+491701234567")
    tag = services.create_tag(account, "News")
    paket = campaigns.create_paket(account, title="Sale", body="Sale!", device_id=device.id, sim=0,
                                   tag_ids=str(tag.id), time_to_send="0")
    waiting = _message(account, device, international, paket=paket)
    waiting_national = _message(account, device, national, paket=paket)
    direct = _message(account, device, international)
    db.session.commit()

    accounts.update_settings(account, default_region="de")
    db.session.commit()
    (contact,) = _contacts(account).values()
    assert (contact.id, contact.phone, contact.name) == (international.id, "+491701234567", "Anna")
    assert (contact.opted_out, contact.opted_out_at, contact.opt_out_reason) == (True, stopped_at, "replied STOP")
    statuses_now = {m.id: m.status for m in db.session.scalars(select(Message))}
    assert statuses_now == {waiting.id: statuses.OPTED_OUT, waiting_national.id: statuses.OPTED_OUT,
                            direct.id: statuses.PENDING}  # direct sends follow the account's own rule


def test_the_earlier_opt_out_wins_when_both_spellings_had_one(make_account):
    account, _ = make_account(timezone="UTC")
    now = utcnow()
    national = services.create_contact(account, "0170 1234567")
    optout.opt_out_contact(account, national, "replied STOP", now=now - timedelta(days=9))
    international = services.create_contact(account, "+491701234567")
    optout.opt_out_contact(account, international, "opted out by hand in the dashboard", now=now - timedelta(days=1))
    db.session.commit()
    accounts.update_settings(account, default_region="DE")
    db.session.commit()
    (contact,) = _contacts(account).values()
    assert (contact.opted_out_at, contact.opt_out_reason) == (now - timedelta(days=9), "replied STOP")



def test_another_account_holding_the_new_number_is_left_alone(make_account):
    """Renumbering merges only into the account's own contacts: the same person may be anyone's contact."""
    ours, _ = make_account(timezone="UTC")
    theirs, _ = make_account(timezone="UTC")
    mine = services.create_contact(ours, "0170 1234567", name="Anna")
    their_anna = services.create_contact(theirs, "+491701234567", name="Their Anna")
    db.session.commit()
    assert accounts.update_settings(ours, default_region="DE") == Renumbered(contacts=1, merged=0)
    db.session.commit()
    assert [(c.id, c.name) for c in _contacts(ours).values()] == [(mine.id, "Anna")]
    assert set(_contacts(ours)) == {"+491701234567"}
    assert [(c.id, c.name) for c in _contacts(theirs).values()] == [(their_anna.id, "Their Anna")]


def test_many_contacts_are_renumbered_and_merged_across_several_chunks(make_account):
    """1,200 renumbered contacts, 700 of them merged: more than one full chunk of each kind of write (500)
    and a last, shorter one, each row with its own values."""
    account, _ = make_account(timezone="UTC")
    device = create_device(account, "Pixel")
    vip = services.create_tag(account, "VIP")
    now = utcnow()
    db.session.execute(Contact.__table__.insert(), [
        {"account_id": account.id, "phone": f"0171{i:07d}", "phone_raw": f"0171 {i:07d}", "name": f"Kunde {i}",
         "opted_out": i % 7 == 0, "opted_out_at": now - timedelta(minutes=i) if i % 7 == 0 else None,
         "opt_out_reason": f"STOP {i}" if i % 7 == 0 else None, "created_at": now, "updated_at": now}
        for i in range(1200)])
    db.session.execute(Contact.__table__.insert(), [
        {"account_id": account.id, "phone": f"+49171{i:07d}", "phone_raw": f"+49171{i:07d}", "name": "",
         "created_at": now, "updated_at": now} for i in range(700)])
    national = {c.phone: c for c in _contacts(account).values() if not c.phone.startswith("+")}
    db.session.execute(contact_tags.insert(), [{"contact_id": national[f"0171{i:07d}"].id, "tag_id": vip.id}
                                               for i in range(0, 1200, 3)])
    history = {i: _message(account, device, national[f"0171{i:07d}"], status=statuses.DELIVERED).id
               for i in range(0, 1200, 5)}
    db.session.commit()

    assert accounts.update_settings(account, default_region="DE") == Renumbered(contacts=1200, merged=700)
    db.session.commit()
    contacts = _contacts(account)
    assert len(contacts) == 1200
    for i in range(1200):
        contact = contacts[f"+49171{i:07d}"]
        assert contact.name == f"Kunde {i}", i  # a merged keeper had no name: it takes the other's
        assert contact.opted_out == (i % 7 == 0), i
        assert contact.opt_out_reason == (f"STOP {i}" if i % 7 == 0 else None), i
        assert {t.title for t in contact.tags} == ({"VIP"} if i % 3 == 0 else set()), i
        if i in history:
            assert db.session.get(Message, history[i]).contact_id == contact.id, i
    assert db.session.scalar(select(func.count()).select_from(contact_tags)) == len(range(0, 1200, 3))
