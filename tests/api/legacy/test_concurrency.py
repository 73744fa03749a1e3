"""Concurrent calls: every batch's ``sms_ids`` name exactly its rows; saving one tag or contact at once from
several calls answers each of them with the one row."""
import threading

from sqlalchemy import select

from smsplatform.extensions import db
from smsplatform.models import Contact, Message, Tag
from tests.api.legacy.conftest import call, ok
from tests.support.threads import run_in_threads


def test_concurrent_batches_get_their_own_ids_in_item_order(app, owner):
    _, token, device = owner
    batches = {n: [{"sendto": f"+49157{n:02d}{i:06d}", "body": f"batch {n} item {i}", "device_id": device.id}
                   for i in range(300)] for n in range(6)}
    answers, errors = {}, []
    start = threading.Barrier(len(batches))

    def post(n):
        try:
            client = app.test_client()
            start.wait()
            answers[n] = ok(client.post("/getdata/addalotofsms", json={"token": token, "smsdata": batches[n]}))
        except Exception as exc:  # reported below; a thread must not swallow it
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(n,)) for n in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    db.session.rollback()  # a fresh snapshot (MariaDB's repeatable read)
    stored = {m.id: m.body for m in db.session.query(Message)}
    assert len(stored) == 6 * 300
    for n, answer in answers.items():
        assert [stored[sms_id] for sms_id in answer["sms_ids"]] == [item["body"] for item in batches[n]]


# Integrations run several workers: the same number or tag can arrive in concurrent calls, each of which
# finds nothing and inserts. The unique keys let one insert win; the others must use its row, not fail.

def _same_time(app, *calls):
    """Each call's answer, the calls released together from their own threads (own sessions)."""
    return run_in_threads(app, *[lambda call=call: call(app.test_client()).get_json() for call in calls])


def test_concurrent_savetag_with_one_title_all_answer_the_one_tag(app, owner):
    _, token, _ = owner
    ok(call(app.test_client(), "savetag", {"token": token, "title": "warm-up"}))  # no token-use update to serialise on
    answers = _same_time(app, *[lambda client: call(client, "savetag", {"token": token, "title": "VIP"})] * 6)
    db.session.rollback()
    tags = db.session.scalars(select(Tag).where(Tag.title == "VIP")).all()
    assert len(tags) == 1
    assert answers == [{"error": 0, "message": "Ok", "tag_id": tags[0].id}] * 6


def test_concurrent_savecontact_of_one_new_number_makes_one_contact_with_every_tag(app, owner):
    _, token, _ = owner
    tag_ids = [ok(call(app.test_client(), "savetag", {"token": token, "title": f"list {n}"}))["tag_id"]
               for n in range(6)]
    answers = _same_time(app, *[
        lambda client, tag_id=tag_id: call(client, "savecontact", {"token": token, "phone": "+4915112345678",
                                                                   "tag_id": tag_id})
        for tag_id in tag_ids])
    db.session.rollback()
    contact = db.session.scalars(select(Contact)).one()
    assert answers == [{"error": 0, "message": "ok", "contact_id": contact.id}] * 6
    assert sorted(tag.id for tag in contact.tags) == sorted(tag_ids)


def test_concurrent_savecontact_with_one_tag_tags_the_contact_once(app, owner):
    _, token, _ = owner
    first_tag, tag_id = (ok(call(app.test_client(), "savetag", {"token": token, "title": title}))["tag_id"]
                         for title in ("first", "list"))
    contact_id = ok(call(app.test_client(), "savecontact", {"token": token, "phone": "+4915112345678",
                                                            "tag_id": first_tag}))["contact_id"]
    answers = _same_time(app, *[lambda client: call(client, "savecontact", {"token": token, "phone": "+4915112345678",
                                                                            "tag_id": tag_id})] * 6)
    db.session.rollback()
    assert answers == [{"error": 0, "message": "ok", "contact_id": contact_id}] * 6
    assert sorted(tag.id for tag in db.session.get(Contact, contact_id).tags) == sorted([first_tag, tag_id])
