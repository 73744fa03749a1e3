"""Concurrent batches: every answer's ``sms_ids`` name exactly that batch's rows, item by item."""
import threading

from smsplatform.extensions import db
from smsplatform.models import Message
from tests.api.legacy.conftest import ok


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
