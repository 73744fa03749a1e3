"""Id-guessing: every route with an id answers 404 for another account's object and changes nothing."""
import io
import zipfile
from urllib.parse import quote

from smsplatform.extensions import db
from smsplatform.messaging import statuses as st
from smsplatform.models import ApiToken, Contact, Device, Message, Paket, Tag


def test_another_accounts_ids_are_404_everywhere(web, theirs, device):
    t = theirs
    gets = [
        f"/devices/{t['device'].id}", f"/messages/{t['message'].id}", f"/messages/{t['incoming'].id}",
        f"/contacts/{t['contact'].id}", f"/newsletters/{t['paket'].id}",
        f"/newsletters/{t['paket'].id}/edit",
        f"/inbox/conversation?phone={quote(t['incoming'].phone)}", f"/inbox/conversation?phone={quote(t['message'].phone)}",
        f"/contacts?tag={t['tag'].id}", f"/contacts/export.csv?tag={t['tag'].id}",
        f"/contacts/export.xlsx?tag={t['tag'].id}",
        f"/newsletters/preview?body=x&tag_ids={t['tag'].id}",
    ]
    for url in gets:
        assert web.get(url).status_code == 404, url
    posts = [
        (f"/devices/{t['device'].id}", {"name": "stolen"}),
        (f"/devices/{t['device'].id}/remove", {"queued": "fail"}),
        (f"/tokens/{t['token'].id}/revoke", {}),
        (f"/contacts/{t['contact'].id}", {"phone": "+4915199999999", "name": "stolen"}),
        (f"/contacts/{t['contact'].id}/delete", {}),
        (f"/tags/{t['tag'].id}/delete", {}),
        (f"/tags/{t['tag'].id}/rename", {"title": "stolen"}),
        ("/contacts/bulk", {"contact_ids": [t["contact"].id], "action": "untag", "tag_id": t["tag"].id}),
        (f"/inbox/conversation?phone={quote(t['incoming'].phone)}", {"body": "hi"}),
        (f"/newsletters/{t['paket'].id}/edit", {"title": "stolen", "body": "x", "device_id": t["device"].id, "sim": 0,
                                                 "tag_ids": [t["tag"].id], "intent": "schedule"}),
        (f"/messages/{t['message'].id}/cancel", {}), ("/messages/cancel", {"message_ids": [t["message"].id]}),
    ] + [(f"/newsletters/{t['paket'].id}/{action}", {})
         for action in ("start", "unschedule", "pause", "resume", "cancel", "delete", "duplicate")]
    for url, data in posts:
        assert web.post(url, data=data).status_code == 404, url
    # Our own device cannot move its queue onto their device, nor send through it.
    response = web.post(f"/devices/{device.id}/remove", data={"queued": "move", "target_device_id": t["device"].id})
    assert response.status_code == 400
    response = web.post("/send", data={"device_id": t["device"].id, "sim": 0, "recipients": "+4915100000000", "body": "x"})
    assert response.status_code == 400
    response = web.post("/newsletters/new", data={"title": "x", "body": "x", "device_id": t["device"].id, "sim": 0,
                                                 "tag_ids": [t["tag"].id]})
    assert response.status_code == 400
    # Filters naming their ids show nothing of theirs.
    page = web.get(f"/messages?device_id={t['device'].id}&paket_id={t['paket'].id}").get_data(as_text=True)
    assert "secret" not in page and "their inbox" not in page
    assert "secret" not in web.get("/messages/export.csv").get_data(as_text=True)
    assert "their inbox" not in web.get("/inbox").get_data(as_text=True)
    assert "Their Contact" not in web.get("/contacts?q=Their").get_data(as_text=True)
    assert "+4915111111111" not in web.get("/contacts/export.csv").get_data(as_text=True)
    for export in ("/messages/export.xlsx", "/contacts/export.xlsx"):  # a workbook holds its texts unzipped
        sheet = zipfile.ZipFile(io.BytesIO(web.get(export).data)).read("xl/worksheets/sheet1.xml").decode()
        assert "secret" not in sheet and "+4915111111111" not in sheet and "Their Contact" not in sheet
    assert "Their phone" not in web.get("/devices").get_data(as_text=True)
    assert "Theirs" not in web.get("/newsletters").get_data(as_text=True)

    db.session.expire_all()
    assert db.session.get(Device, t["device"].id).name == "Their phone"
    assert db.session.get(Device, t["device"].id).revoked_at is None
    assert db.session.get(ApiToken, t["token"].id).revoked_at is None
    contact = db.session.get(Contact, t["contact"].id)
    assert contact.name == "Their Contact" and [tag.id for tag in contact.tags] == [t["tag"].id]
    assert db.session.get(Tag, t["tag"].id).title == "VIP"
    paket = db.session.get(Paket, t["paket"].id)
    assert (paket.status, paket.title) == ("draft", "Theirs")
    assert db.session.query(Paket).count() == 1  # nothing copied either
    assert db.session.get(Message, t["message"].id).status == st.PENDING
    assert db.session.query(Message).filter_by(device_id=device.id).count() == 0


def test_a_foreign_id_answers_exactly_like_a_missing_one(web, theirs):
    """The 404 a service's NotFoundError turns into is the page a missing id gets: same status, same bytes."""
    t = theirs
    missing = 999_999_999
    routes = [
        ("get", "/devices/{}", t["device"].id), ("get", "/contacts/{}", t["contact"].id),
        ("get", "/contacts?tag={}", t["tag"].id), ("get", "/newsletters/preview?body=x&tag_ids={}", t["tag"].id),
        ("post", "/devices/{}", t["device"].id), ("post", "/contacts/{}/delete", t["contact"].id),
        ("post", "/tags/{}/rename", t["tag"].id), ("post", "/tags/{}/delete", t["tag"].id),
        ("post", "/tokens/{}/revoke", t["token"].id),
        ("get", "/newsletters/{}/edit", t["paket"].id), ("post", "/newsletters/{}/edit", t["paket"].id),
        ("post", "/contacts/{}/opt-out", t["contact"].id), ("post", "/contacts/{}/opt-in", t["contact"].id),
        ("post", "/messages/{}/cancel", t["message"].id),
        ("post", "/newsletters/{}/delete", t["paket"].id), ("post", "/newsletters/{}/duplicate", t["paket"].id),
    ]
    for method, url, foreign in routes:
        theirs_answer = getattr(web, method)(url.format(foreign))
        missing_answer = getattr(web, method)(url.format(missing))
        assert theirs_answer.status_code == missing_answer.status_code == 404, url
        assert theirs_answer.data == missing_answer.data, url
        assert b"<h1>Not found</h1>" in theirs_answer.data, url
        # past a BIGINT: refused before the database (SQLite cannot bind it: it was a 500); ids in a path or
        # a filter match nothing (404), a newsletter's tags are checked as numbers (400)
        assert getattr(web, method)(url.format("9" * 19)).status_code in (400, 404), url


def test_another_accounts_contact_is_not_opted_out_or_back_in(web, theirs):
    contact = theirs["contact"]
    assert web.post(f"/contacts/{contact.id}/opt-out").status_code == 404
    db.session.expire_all()
    assert (contact.opted_out, contact.opted_out_at) == (False, None)
    contact.opted_out, contact.opt_out_reason = True, "replied STOP"
    db.session.commit()
    assert web.post(f"/contacts/{contact.id}/opt-in").status_code == 404
    db.session.expire_all()
    assert (contact.opted_out, contact.opt_out_reason) == (True, "replied STOP")


def test_a_path_no_route_matches_gets_the_dashboard_404_page(web, client):
    """An id past a BIGINT, a mistyped or foreign-looking path: the same page a missing id gets, signed in
    or not; the machine APIs keep their own answers."""
    missing = web.get("/devices/999999999")
    for url in ["/devices/" + "9" * 19, "/contacts/abc", "/no-such-page", "/newsletters/abc", "/getdatax"]:
        answer = web.get(url)
        assert (answer.status_code, answer.data) == (404, missing.data), url
    web.post("/logout")
    assert b"<h1>Not found</h1>" in client.get("/no-such-page").data
    assert client.get("/api/mobile/v1/nothing").get_json()["code"] == 404
    assert b"<h1>Not found</h1>" not in client.get("/uploads/no-such-file.png").data  # werkzeug's plain page
