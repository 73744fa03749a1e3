"""The S3 backend against moto's standalone server: a real HTTP S3 API in its own process."""
import io
import json
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from smsplatform.errors import ValidationError
from smsplatform.extensions import db
from smsplatform.models import Message, StoredObject
from smsplatform.storage import get_storage
from smsplatform.storage.s3 import S3Storage
from smsplatform.storage.services import delete_account_objects, delete_unreferenced, public_url, store_image
from smsplatform.timeutil import utcnow
from tests.storage import images
from tests.storage.conftest import bucket_keys


def test_upload_lands_in_the_bucket_under_the_prefix_and_presigned_url_fetches_it(account, s3):
    data = images.jpeg()
    obj = store_image(account[0], "photo.png", data, "image/png")
    db.session.commit()

    assert obj.backend == "s3"
    assert bucket_keys(s3) == [f"media/tenant-a/{obj.key}"]
    stored = s3.get_object(Bucket=s3.bucket, Key=f"media/tenant-a/{obj.key}")
    assert stored["Body"].read() == data
    assert stored["ContentType"] == "image/jpeg"
    assert "immutable" in stored["CacheControl"]

    url = public_url(obj)
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=600" in url
    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["Content-Type"] == "image/jpeg"


def test_public_base_url_is_used_instead_of_presigning(app, account, s3, s3_endpoint):
    # What an operator does for public URLs: a bucket policy making the prefix publicly readable.
    s3.put_bucket_policy(Bucket=s3.bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{s3.bucket}/media/tenant-a/*",
    }]}))
    app.config["S3_PUBLIC_BASE_URL"] = f"{s3_endpoint}/{s3.bucket}/"
    app.extensions.pop("smsplatform.storage", None)
    obj = store_image(account[0], "a.webp", images.WEBP_LOSSLESS, None)
    db.session.commit()

    url = public_url(obj)
    assert url == f"{s3_endpoint}/{s3.bucket}/media/tenant-a/{obj.key}"
    response = requests.get(url, timeout=10)
    assert (response.status_code, response.content) == (200, images.WEBP_LOSSLESS)
    assert response.headers["Content-Type"] == "image/webp"


def test_rollback_removes_the_object_from_the_bucket(account, s3):
    store_image(account[0], "a.png", images.png(), None)
    assert len(bucket_keys(s3)) == 1
    db.session.rollback()
    assert bucket_keys(s3) == []


def test_refused_upload_puts_nothing_in_the_bucket(account, s3):
    with pytest.raises(ValidationError):
        store_image(account[0], "evil.jpg", images.SVG_WITH_SCRIPT, "image/jpeg")
    assert bucket_keys(s3) == []


def test_cleanup_and_account_deletion_remove_objects_from_the_bucket(account, make_account, s3):
    owner = account[0]
    other, _ = make_account(email="other@example.com")
    old = store_image(owner, "a.png", images.png(), None)
    old.created_at = utcnow() - timedelta(days=2)
    store_image(owner, "b.gif", images.gif(), None)
    theirs = store_image(other, "c.gif", images.gif(), None)
    # An object without a row (its transaction never committed) and a foreign object under the prefix.
    get_storage().put("ee/" + "e" * 32 + ".png", images.png(), "image/png")
    s3.put_object(Bucket=s3.bucket, Key="media/tenant-a/not-ours.txt", Body=b"keep")
    db.session.commit()

    assert delete_unreferenced() == 1  # the old row; the bare object is young
    db.session.commit()
    assert len(bucket_keys(s3)) == 4
    assert delete_unreferenced(now=utcnow() + timedelta(days=2)) == 3  # two rows and the bare object
    db.session.rollback()  # not committed: the rows and their objects stay (the bare object had no row)
    assert db.session.scalar(select(func.count()).select_from(StoredObject)) == 2
    assert len(bucket_keys(s3)) == 3

    assert delete_account_objects(owner) == 1
    db.session.commit()
    assert bucket_keys(s3) == sorted([f"media/tenant-a/{theirs.key}", "media/tenant-a/not-ours.txt"])
    assert db.session.scalar(select(func.count()).select_from(StoredObject)) == 1


def test_presign_lifetime_is_bounded():
    with pytest.raises(ValueError, match="S3_PRESIGN_SECONDS"):
        S3Storage("bucket", presign_seconds=8 * 24 * 3600)
    with pytest.raises(ValueError, match="S3_BUCKET"):
        S3Storage("")


def test_storage_failure_during_addsms_answers_json_and_saves_nothing(app, client, account, make_device, s3):
    owner, token = account
    device = make_device(owner)
    app.config["S3_BUCKET"] = "no-such-bucket"
    app.extensions.pop("smsplatform.storage", None)
    response = client.post("/getdata/addsms", content_type="multipart/form-data", data={
        "token": token, "sendto": "+4915752982212", "device_id": str(device.id),
        "file": (io.BytesIO(images.png()), "a.png", "image/png"),
    })
    answer = response.get_json()
    assert answer["error"] == 1 and "not saved" in answer["message"]
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0
    assert db.session.scalar(select(func.count()).select_from(StoredObject)) == 0
