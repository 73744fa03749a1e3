"""``/getdata/addsms`` with a multipart ``file``: the image is stored once and its URL is the body."""
import io

import pytest
from sqlalchemy import select

from smsplatform.devices.auth import new_device_token
from smsplatform.extensions import db
from smsplatform.models import Message, StoredObject
from tests.storage import images
from tests.support.files import files_under
from tests.support.rows import row_counts


def _addsms(client, token, device, files, **fields):
    data = {"token": token, "sendto": "+4915752982212", "device_id": str(device.id), **fields}
    for name, filename, content, mimetype in files:
        data.setdefault(name, [])
        data[name].append((io.BytesIO(content), filename, mimetype))
    return client.post("/getdata/addsms", data=data, content_type="multipart/form-data")


def test_image_for_several_recipients_is_stored_once_and_its_url_is_the_body(client, account, make_device,
                                                                             upload_root, sandbox):
    owner, token = account
    device = make_device(owner)
    data = images.png(4, 3)
    response = _addsms(client, token, device, [("file", "my photo.JPG", data, "image/jpeg")],
                       sendto="+4915752982212, +4915752982213,+4915752982214")

    assert response.status_code == 200
    answer = response.get_json()
    assert answer["error"] == 0 and answer["message"] == "Sms has been saved successfully"
    messages = list(db.session.scalars(select(Message).order_by(Message.id)))
    assert len(messages) == 3 and answer["sms_id"] == messages[0].id
    obj = db.session.scalars(select(StoredObject)).one()
    assert obj.account_id == owner.id and obj.content_type == "image/png" and obj.key.endswith(".png")
    assert {(m.body, m.media_url, m.media_object_id) for m in messages} == {
        (f"http://localhost/uploads/{obj.key}", f"http://localhost/uploads/{obj.key}", obj.id)
    }
    assert files_under(sandbox) == [upload_root / obj.key]
    fetched = client.get(messages[0].media_url)
    assert (fetched.status_code, fetched.data, fetched.mimetype) == (200, data, "image/png")


def test_phone_gets_the_image_url_separately(client, account, make_device, upload_root):
    owner, token = account
    device = make_device(owner, slots="2")
    device_token, device_token_hash = new_device_token()
    device.token_hash = device_token_hash
    db.session.commit()
    answer = _addsms(client, token, device, [("file", "a.gif", images.gif(), "image/gif")], sim="2").get_json()
    assert answer["error"] == 0, answer

    pulled = client.get("/api/mobile/v1/message", headers={"Authorization": f"Bearer {device_token}"})
    assert pulled.status_code == 200
    [dto] = pulled.get_json()
    url = db.session.scalars(select(Message.media_url)).one()
    assert dto["mediaUrl"] == url and dto["message"] == url
    assert client.get(url).data == images.gif()


@pytest.mark.parametrize("files,expected", [
    ([("file", "photo.jpg", images.TEXT, "image/jpeg")], "only JPEG, PNG, WebP or GIF"),
    ([("file", "cut.png", images.png()[:-30], "image/png")], "not a complete PNG"),
    ([("file", "logo.svg", images.SVG_WITH_SCRIPT, "image/svg+xml")], "only JPEG, PNG, WebP or GIF"),
    ([("file", "big.png", images.png(padding=6 * 1024 * 1024), "image/png")], "too large: at most 5 MB"),
    ([("file", "empty.png", b"", "image/png")], "file is empty"),
    ([("file", "a.png", images.png(), "image/png"), ("file", "b.png", images.png(), "image/png")], "exactly one image"),
    ([("file", "a.png", images.png(), "image/png"), ("image", "b.png", images.png(), "image/png")], "exactly one image"),
    ([("file", "../../../../../tmp/evil.png", images.png(), "image/png")], "must not contain a path"),
    ([("file", "evil\x00.png", images.png(), "image/png")], "control characters"),
], ids=["text-named-jpg", "truncated-png", "svg-with-script", "6mb", "zero-bytes", "two-files",
        "two-fields", "dotdot-name", "nul-name"])
def test_bad_files_are_refused_with_a_legacy_error_and_store_nothing(client, account, make_device, upload_root,
                                                                       sandbox, files, expected):
    owner, token = account
    device = make_device(owner)
    response = _addsms(client, token, device, files, body="hello")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    answer = response.get_json()
    assert answer["error"] == 1 and expected in answer["message"], answer
    assert row_counts(Message, StoredObject) == {"messages": 0, "stored_objects": 0}
    assert files_under(sandbox) == []


def test_a_message_refused_after_the_upload_leaves_no_object(client, account, make_device, upload_root, sandbox):
    owner, token = account
    device = make_device(owner)
    response = _addsms(client, token, device, [("file", "a.png", images.png(), "image/png")], sendto="not a number")
    assert response.get_json()["error"] == 1
    assert row_counts(Message, StoredObject) == {"messages": 0, "stored_objects": 0}
    assert files_under(sandbox) == []


def test_without_a_file_body_is_still_required(client, account, make_device, upload_root):
    owner, token = account
    device = make_device(owner)
    answer = client.post("/getdata/addsms", data={"token": token, "sendto": "+4915752982212",
                                                  "device_id": str(device.id)}).get_json()
    assert answer["error"] == 1 and "body" in answer["message"]
