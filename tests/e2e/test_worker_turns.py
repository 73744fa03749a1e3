"""A big legacy batch shares its gevent worker: an urgent ``addsms`` sent while the batch is being checked
is answered before the batch is.

A real gunicorn with the product's settings and one worker, so both calls land on the same process. The
batch and the urgent message use the same token, as one integration's jobs do.
"""
import json
import threading
import time

import requests

from smsplatform.extensions import db
from smsplatform.models import Message
from tests.e2e.harness import Platform

ITEMS = 50_000  # about 2 s of checking on the CI machine, far longer than one urgent call


def test_an_urgent_addsms_is_answered_while_a_big_batch_is_being_checked(tmp_path, database_url, account,
                                                                          make_device):
    owner, token = account
    device_id = make_device(owner).id
    batch = json.dumps({"token": token, "smsdata": [
        {"sendto": f"+4915{n:09d}", "body": "Our summer sale starts today", "device_id": device_id}
        for n in range(ITEMS)]})
    platform = Platform(tmp_path, database_url)
    try:
        server = platform.start_web(workers=1)
        answered = {}

        def post_batch():
            response = requests.post(f"{server}/getdata/addalotofsms", data=batch,
                                     headers={"Content-Type": "application/json"}, timeout=300)
            answered["batch"] = (time.monotonic(), response.json())

        sender = threading.Thread(target=post_batch)
        sender.start()
        time.sleep(0.5)  # the body is on the server (a few ms over loopback) and being checked
        otp = requests.post(f"{server}/getdata/addsms", data={
            "token": token, "sendto": "+4917612345678", "body": "Your code is 123456", "device_id": device_id,
            "urgent": 1}, timeout=300).json()
        otp_answered = time.monotonic()
        sender.join(300)
    finally:
        platform.stop()

    assert otp["error"] == 0, otp
    batch_answered, batch_answer = answered["batch"]
    assert batch_answer["error"] == 0 and len(batch_answer["sms_ids"]) == ITEMS, batch_answer.get("message")
    assert otp_answered < batch_answered, "the urgent message waited for the whole batch"
    db.session.expire_all()
    assert db.session.query(Message).count() == ITEMS + 1
    assert db.session.get(Message, otp["sms_id"]).priority == 100
