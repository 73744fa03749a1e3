import hashlib
import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from smsplatform.config import PROJECT_ROOT
from smsplatform.errors import ValidationError
from smsplatform.extensions import db
from smsplatform.messaging.service import accept_messages
from smsplatform.models import Account, Message, Paket, StoredObject
from smsplatform.storage import KEY_RE, get_storage
from smsplatform.storage.services import delete_unreferenced, public_url, store_image
from smsplatform.timeutil import utcnow
from tests.storage import images
from tests.support.files import files_under
from tests.support.rows import row_counts
from tests.support.servers import free_port, stop, wait_http


def test_stored_image_is_served_by_the_app_with_its_bytes_and_type(client, account, upload_root, sandbox):
    owner, _ = account
    data = images.png(3, 2)
    obj = store_image(owner, "holiday.jpg", data, "text/plain")
    db.session.commit()

    # Type and extension come from the content, not the name or the declared type.
    assert (obj.content_type, obj.size, obj.sha256) == ("image/png", len(data), hashlib.sha256(data).hexdigest())
    assert KEY_RE.fullmatch(obj.key) and obj.key.endswith(".png") and "holiday" not in obj.key
    assert files_under(sandbox) == [upload_root / obj.key]
    url = public_url(obj)
    assert url == f"http://localhost/uploads/{obj.key}"

    response = client.get(url)
    assert response.status_code == 200
    assert response.data == data
    assert response.mimetype == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "immutable" in response.headers["Cache-Control"] and "max-age=31536000" in response.headers["Cache-Control"]
    assert client.get(url, headers={"If-None-Match": response.headers["ETag"]}).status_code == 304


@pytest.mark.parametrize("data,extension,content_type", [
    (images.jpeg(), "jpg", "image/jpeg"), (images.gif(), "gif", "image/gif"), (images.WEBP_LOSSY, "webp", "image/webp"),
])
def test_each_format_keeps_its_extension_and_type(client, account, upload_root, data, extension, content_type):
    obj = store_image(account[0], "upload.png", data, "image/png")
    db.session.commit()
    assert obj.key.endswith("." + extension)
    response = client.get(public_url(obj))
    assert (response.data, response.mimetype) == (data, content_type)


def test_keys_are_random_and_unique(account, upload_root):
    keys = {store_image(account[0], "same.png", images.png(), None).key for _ in range(20)}
    assert len(keys) == 20


@pytest.mark.parametrize("path", [
    "/uploads/ab/" + "0" * 32 + ".png",  # well formed, never stored
    "/uploads/../secret_key", "/uploads/%2e%2e/secret_key", "/uploads/..%2fsecret_key", "/uploads/ab/../../x.png",
    "/uploads/" + "a" * 34 + ".png", "/uploads/ab/" + "a" * 32 + ".svg", "/uploads/", "/uploads/%00",
])
def test_unknown_or_hostile_upload_paths_are_404(client, upload_root, path):
    upload_root.mkdir(parents=True)
    (upload_root.parent / "secret_key").write_text("do not serve")
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("filename,data,message", [
    ("photo.jpg", images.TEXT, "only JPEG, PNG, WebP or GIF"),
    ("evil.svg", images.SVG_WITH_SCRIPT, "only JPEG, PNG, WebP or GIF"),
    ("cut.png", images.png()[:-20], "not a complete PNG"),
    ("empty.png", b"", "file is empty"),
    ("big.png", images.png(padding=6 * 1024 * 1024), "too large: at most 5 MB"),
    ("../../../../tmp/evil.png", images.png(), "must not contain a path"),
    ("..\\..\\evil.png", images.png(), "must not contain a path"),
    ("evil\x00.png", images.png(), "control characters"),
])
def test_bad_uploads_are_refused_and_store_nothing(app, account, upload_root, sandbox, filename, data, message):
    with pytest.raises(ValidationError, match=message) as caught:
        store_image(account[0], filename, data, "image/png")
    assert caught.value.field == "file"
    db.session.rollback()
    assert row_counts(StoredObject) == {"stored_objects": 0}
    assert files_under(sandbox) == []


def test_size_limit_is_configurable_and_inclusive(app, account, upload_root):
    data = images.png()
    app.config["UPLOAD_MAX_BYTES"] = len(data)
    store_image(account[0], "fits.png", data, None)
    app.config["UPLOAD_MAX_BYTES"] = len(data) - 1
    with pytest.raises(ValidationError, match=f"at most {len(data) - 1} bytes"):
        store_image(account[0], "too-big.png", data, None)


def test_rollback_removes_the_uploaded_object(account, upload_root, sandbox):
    obj = store_image(account[0], "a.png", images.png(), None)
    assert files_under(sandbox) == [upload_root / obj.key]  # stored before the row commits
    db.session.rollback()
    assert files_under(sandbox) == []
    assert row_counts(StoredObject) == {"stored_objects": 0}


def test_a_session_closed_without_commit_removes_the_object(account, upload_root, sandbox):
    store_image(account[0], "a.png", images.png(), None)
    db.session.remove()
    assert files_under(sandbox) == []


def test_a_failed_commit_removes_the_object(account, upload_root, sandbox):
    store_image(account[0], "a.png", images.png(), None)
    db.session.add(Account(email=account[0].email, password_hash="x"))  # duplicate email: the flush fails
    with pytest.raises(Exception):
        db.session.commit()
    db.session.rollback()
    assert files_under(sandbox) == []


def test_commit_keeps_the_object_and_a_later_rollback_does_not_touch_it(account, upload_root, sandbox):
    obj = store_image(account[0], "a.png", images.png(), None)
    db.session.commit()
    store_image(account[0], "b.png", images.gif(), None)
    db.session.rollback()
    assert files_under(sandbox) == [upload_root / obj.key]


def test_savepoint_rollback_inside_a_committed_transaction_keeps_the_outer_object(account, upload_root, sandbox):
    outer = store_image(account[0], "a.png", images.png(), None)
    with db.session.begin_nested() as savepoint:
        store_image(account[0], "b.png", images.gif(), None)
        savepoint.rollback()
    db.session.commit()
    assert upload_root / outer.key in files_under(sandbox)
    assert row_counts(StoredObject) == {"stored_objects": 1}


def _age(obj: StoredObject, root, days: int) -> None:
    """Pretend the object was uploaded ``days`` ago (row and file)."""
    obj.created_at = utcnow() - timedelta(days=days)
    stamp = (utcnow() - timedelta(days=days)).timestamp()
    os.utime(root / obj.key, (stamp, stamp))


def test_cleanup_job_deletes_only_old_unreferenced_objects(account, make_device, upload_root, sandbox):
    owner = account[0]
    device = make_device(owner)
    old_orphan, young_orphan, in_message, in_paket = (
        store_image(owner, f"{n}.png", images.png(), None) for n in range(4)
    )
    accept_messages(owner, [{"sendto": "+4915752982212", "body": "", "device_id": device.id, "media": in_message}])
    db.session.add(Paket(account_id=owner.id, title="News", body="", media_object_id=in_paket.id,
                         media_url=public_url(in_paket)))
    for obj in (old_orphan, in_message, in_paket):
        _age(obj, upload_root, days=2)
    _age(young_orphan, upload_root, days=0)
    # A file whose transaction never committed (a killed process): no row at all.
    crashed_key = "cd/" + "c" * 32 + ".gif"
    get_storage().put(crashed_key, images.gif(), "image/gif")
    stamp = (utcnow() - timedelta(days=2)).timestamp()
    os.utime(upload_root / crashed_key, (stamp, stamp))
    # Something that is not ours, in the root: never touched.
    (upload_root / ".gitkeep").write_text("")
    db.session.commit()

    assert delete_unreferenced() == 2
    db.session.commit()

    kept = {p.relative_to(upload_root).as_posix() for p in files_under(sandbox)}
    assert kept == {young_orphan.key, in_message.key, in_paket.key, ".gitkeep"}
    assert set(db.session.scalars(select(StoredObject.key))) == {young_orphan.key, in_message.key, in_paket.key}
    assert delete_unreferenced(now=utcnow() + timedelta(days=2)) == 1  # the young orphan, once it is old
    db.session.commit()
    assert row_counts(StoredObject) == {"stored_objects": 2}


def test_cleanup_job_rolled_back_deletes_nothing(account, upload_root, sandbox):
    obj = store_image(account[0], "a.png", images.png(), None)
    db.session.commit()
    assert delete_unreferenced(older_than_seconds=0, now=utcnow() + timedelta(seconds=5)) == 1
    db.session.rollback()
    assert files_under(sandbox) == [upload_root / obj.key]


def test_accounts_delete_removes_the_account_and_its_objects_only(app, make_account, make_device, upload_root, sandbox):
    owner, _ = make_account(email="leaving@example.com")
    other, _ = make_account(email="staying@example.com")
    device = make_device(owner)
    mine = store_image(owner, "a.png", images.png(), None)
    accept_messages(owner, [{"sendto": "+4915752982212", "body": "", "device_id": device.id, "media": mine}])
    theirs = store_image(other, "b.png", images.gif(), None)
    db.session.commit()

    runner = app.test_cli_runner()
    result = runner.invoke(args=["accounts", "delete", "--email", "Leaving@Example.com", "--yes"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"id": owner.id, "email": "leaving@example.com", "deleted": True, "objects": 1}
    db.session.expire_all()
    assert files_under(sandbox) == [upload_root / theirs.key]
    assert [a.email for a in db.session.scalars(select(Account))] == ["staying@example.com"]
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0
    assert list(db.session.scalars(select(StoredObject.key))) == [theirs.key]

    again = runner.invoke(args=["accounts", "delete", "--email", "leaving@example.com", "--yes"])
    assert again.exit_code == 1 and json.loads(again.output)["error"]


def test_accounts_delete_asks_for_confirmation(app, account, upload_root):
    result = app.test_cli_runner().invoke(args=["accounts", "delete", "--email", account[0].email], input="n\n")
    assert result.exit_code != 0
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Account)) == 1


def test_uploads_are_served_by_a_real_server_process(app, account, upload_root, database_url):
    port = free_port()
    app.config["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
    obj = store_image(account[0], "a.gif", images.gif(), None)
    db.session.commit()
    env = dict(os.environ, DATABASE_URL=database_url, UPLOAD_DIR=str(upload_root), SECRET_KEY="test",
               PUBLIC_BASE_URL=f"http://127.0.0.1:{port}", INSTANCE_PATH=str(upload_root.parent / "instance"))
    log = upload_root.parent / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--host", "127.0.0.1", "--port", str(port)],
            env=env, cwd=PROJECT_ROOT, stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/uploads/", server, 30, log=log)
        response = requests.get(public_url(obj), timeout=10)
        assert response.status_code == 200
        assert response.content == images.gif()
        assert response.headers["Content-Type"] == "image/gif"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    finally:
        stop(server)


def test_the_scheduler_job_entry_runs_the_cleanup_and_commits(app, account, upload_root, sandbox):
    from smsplatform.scheduler.jobs import JOBS
    from smsplatform.scheduler.runner import run_job

    [job] = [job for job in JOBS if job.target.endswith("delete_unreferenced")]
    obj = store_image(account[0], "a.png", images.png(), None)
    _age(obj, upload_root, days=2)
    db.session.commit()

    assert run_job(app, job.target) == 1
    assert files_under(sandbox) == []
    db.session.expire_all()
    assert row_counts(StoredObject) == {"stored_objects": 0}


def test_an_image_of_another_account_cannot_be_attached(make_account, make_device, upload_root):
    owner, _ = make_account(email="a@example.com")
    intruder, _ = make_account(email="b@example.com")
    device = make_device(intruder)
    foreign = store_image(owner, "a.png", images.png(), None)
    db.session.commit()
    with pytest.raises(ValidationError):
        accept_messages(intruder, [{"sendto": "+4915752982212", "body": "", "device_id": device.id, "media": foreign}])
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0
