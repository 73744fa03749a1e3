"""The contacts' CSV and Excel exports: the list's filter, every contact (past one read chunk), the account's
time zone, and a file the import reads back into another account with the same names, tags and opt-outs."""
import codecs
import csv
import io
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from smsplatform.contacts import optout, services
from smsplatform.extensions import db
from smsplatform.models import Contact
from tests.web.conftest import login


def exported(web, query: str = "", delimiter: str = ",") -> list[list[str]]:
    response = web.get(f"/contacts/export.csv{query}")
    assert response.status_code == 200, response.status_code
    assert response.data.startswith(codecs.BOM_UTF8)  # Excel reads UTF-8 only behind the mark
    assert response.headers["Content-Disposition"] == 'attachment; filename="contacts.csv"'
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=delimiter))


def imported_by_another_account(web, make_account, export_url: str):
    """Download the export, sign in as a new account and import the file on the dashboard: (that account,
    the import page)."""
    data = web.get(export_url).data
    other, _token = make_account(email="other@example.com")
    assert web.post("/logout").status_code == 302
    assert login(web, "other@example.com").status_code == 302
    response = web.post("/contacts/import", content_type="multipart/form-data", data={
        "mode": "add", "tag_id": 0, "file": (io.BytesIO(data), export_url.split("?")[0].rsplit("/", 1)[1])})
    assert response.status_code == 200
    return other, response.get_data(as_text=True)


def as_imported(account) -> set[tuple]:
    return {(c.phone, c.name, tuple(sorted(t.title for t in c.tags)), c.opted_out)
            for c in db.session.query(Contact).filter_by(account_id=account.id)}


@pytest.fixture
def listed(me):
    """Four contacts of ``me`` (Europe/Berlin): tags with a comma and a formula-like name among them, one opted out."""
    me.timezone, me.default_region = "Europe/Berlin", "DE"
    vip, mitte = services.create_tag(me, "VIP"), services.create_tag(me, "Berlin, Mitte")
    services.create_contact(me, "+4915100000001", "Ada Lovelace", [vip.id, mitte.id])
    services.create_contact(me, "+4915100000002", "=HYPERLINK(\"http://evil\")", [mitte.id])
    gone = services.create_contact(me, "0151 00000003", "Grace", [vip.id])
    services.create_contact(me, "+4915100000004", "", [])
    optout.opt_out_contact(me, gone, "STOP by SMS", now=datetime(2026, 7, 1, 12, 0, tzinfo=timezone.utc))
    db.session.commit()
    return {"vip": vip, "mitte": mitte}


def test_the_export_lists_every_contact_newest_first_with_tags_opt_outs_and_local_times(web, me, listed):
    rows = exported(web)
    assert rows[0] == ["phone", "name", "tags", "opted_out", "opted_out_at", "opt_out_reason", "created"]
    assert [row[:6] for row in rows[1:]] == [
        ["+4915100000004", "", "", "no", "", ""],
        ["+4915100000003", "Grace", "VIP", "yes", "2026-07-01 14:00:00", "STOP by SMS"],  # Berlin's summer time
        ["+4915100000002", "'=HYPERLINK(\"http://evil\")", "Berlin, Mitte|", "no", "", ""],  # neutralised; a lone
        ["+4915100000001", "Ada Lovelace", "Berlin, Mitte|VIP", "no", "", ""],                # title keeps its comma
    ]
    created = db.session.query(Contact).filter_by(phone="+4915100000001").one().created_at
    berlin = created.replace(tzinfo=timezone.utc).astimezone(ZoneInfo("Europe/Berlin"))
    assert rows[4][6] == berlin.strftime("%Y-%m-%d %H:%M:%S")


def test_the_export_follows_the_lists_filter_and_its_buttons_say_how_many(web, me, listed):
    html = web.get(f"/contacts?tag={listed['vip'].id}").get_data(as_text=True)
    assert f"/contacts/export.csv?tag={listed['vip'].id}&amp;delimiter=comma" in html and "Export CSV (2)" in html
    assert f"/contacts/export.csv?tag={listed['vip'].id}&amp;delimiter=semicolon" in html
    assert [row[0] for row in exported(web, f"?tag={listed['vip'].id}")[1:]] == ["+4915100000003", "+4915100000001"]
    assert [row[0] for row in exported(web, "?opted_out=yes")[1:]] == ["+4915100000003"]
    assert [row[0] for row in exported(web, "?opted_out=no&q=Ada")[1:]] == ["+4915100000001"]
    assert [row[0] for row in exported(web, "?q=0151%2000000002")[1:]] == ["+4915100000002"]  # a national spelling
    rows = exported(web, "?q=Ada&delimiter=semicolon", delimiter=";")
    assert rows[1][:3] == ["+4915100000001", "Ada Lovelace", "Berlin, Mitte|VIP"]
    assert exported(web, "?q=nobody") == [["phone", "name", "tags", "opted_out", "opted_out_at", "opt_out_reason",
                                           "created"]]


@pytest.mark.parametrize("query, status", [
    ("?delimiter=tab", 400), ("?tag=abc", 400), ("?tag=%C2%B2", 400), ("?tag=999999", 404),
])
def test_a_bad_filter_is_refused_before_anything_is_written(web, me, listed, query, status):
    response = web.get(f"/contacts/export.csv{query}")
    assert response.status_code == status and b"+49151" not in response.data


def test_the_export_reads_every_contact_past_one_chunk(web, me, monkeypatch):
    monkeypatch.setattr(services, "EXPORT_CHUNK", 3)
    tag = services.create_tag(me, "Kunden")
    for i in range(1, 9):
        services.create_contact(me, f"+49151000000{i:02d}", f"Person {i}", [tag.id] if i % 2 else [])
    db.session.commit()
    rows = exported(web)[1:]
    assert [(row[0], row[2]) for row in rows] == [
        (f"+49151000000{i:02d}", "Kunden" if i % 2 else "") for i in range(8, 0, -1)]


def test_an_exported_list_imports_into_another_account_with_its_names_tags_and_opt_outs(
        web, me, listed, make_account):
    other, html = imported_by_another_account(web, make_account, "/contacts/export.csv?delimiter=semicolon")
    assert "4 rows read: 4 created" in html and "1 opted out" in html
    assert as_imported(other) == as_imported(me) == {
        ("+4915100000001", "Ada Lovelace", ("Berlin, Mitte", "VIP"), False),
        ("+4915100000002", "=HYPERLINK(\"http://evil\")", ("Berlin, Mitte",), False),
        ("+4915100000003", "Grace", ("VIP",), True),
        ("+4915100000004", "", (), False),
    }


def workbook_rows(web, url: str) -> list[list]:
    response = web.get(url)
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data)).active
    return [[cell for cell in row] for row in sheet.iter_rows()]


def test_the_excel_export_keeps_numbers_and_formula_like_names_as_text_and_times_as_dates(web, me, listed):
    rows = workbook_rows(web, "/contacts/export.xlsx")
    assert [cell.value for cell in rows[0]] == ["phone", "name", "tags", "opted_out", "opted_out_at",
                                                "opt_out_reason", "created"]
    assert [[cell.value for cell in row[:6]] for row in rows[1:]] == [
        ["+4915100000004", None, None, "no", None, None],
        ["+4915100000003", "Grace", "VIP", "yes", datetime(2026, 7, 1, 14, 0), "STOP by SMS"],
        ["+4915100000002", "=HYPERLINK(\"http://evil\")", "Berlin, Mitte|", "no", None, None],  # no "'": a text
        ["+4915100000001", "Ada Lovelace", "Berlin, Mitte|VIP", "no", None, None],              # cell is no formula
    ]
    phone, name, opted_out_at = rows[3][0], rows[3][1], rows[2][4]
    assert (phone.data_type, name.data_type, opted_out_at.number_format) == ("s", "s", "yyyy-mm-dd hh:mm:ss")
    assert [row[0].value for row in workbook_rows(web, f"/contacts/export.xlsx?tag={listed['vip'].id}")[1:]] == [
        "+4915100000003", "+4915100000001"]
    html = web.get("/contacts?opted_out=yes").get_data(as_text=True)
    assert "/contacts/export.xlsx?opted_out=yes" in html and "Export Excel (.xlsx) (1)" in html
    assert web.get("/contacts/export.xlsx?tag=abc").status_code == 400


def test_an_excel_export_imports_into_another_account_with_its_names_tags_and_opt_outs(
        web, me, listed, make_account):
    other, html = imported_by_another_account(web, make_account, "/contacts/export.xlsx")
    assert "4 rows read: 4 created" in html and "1 opted out" in html and "Sheet “Contacts”" in html
    assert as_imported(other) == as_imported(me)
