"""Exports as spreadsheets read them: CSV formulas neutralised on the way out (the mark dropped on the way in),
workbook cells typed."""
import csv
import io
from datetime import datetime

import pytest
from openpyxl import load_workbook

from smsplatform.spreadsheets import csv_lines, escape_cell, unescape_cell, xlsx_file


@pytest.mark.parametrize("value, written", [
    ("=1+2", "'=1+2"),
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
    ('=HYPERLINK("http://evil.example","click")', '\'=HYPERLINK("http://evil.example","click")'),
    ("+SUM(A1:A9)", "'+SUM(A1:A9)"),
    ("-2+3", "'-2+3"),
    ("-5 Prozent", "'-5 Prozent"),
    ("@SUM(1)", "'@SUM(1)"),
    ("\t=1+2", "'\t=1+2"),
    ("\r=1+2", "'\r=1+2"),
    ("+49 157 52982212", "'+49 157 52982212"),  # not a plain number: a spreadsheet may parse it as a formula
    ("+4915752982212", "+4915752982212"),        # a plain international number stays as it is
    ("+1", "+1"),
    ("Anna = Bob", "Anna = Bob"),
    ("0157 52982212", "0157 52982212"),
    ("", ""),
    (42, 42),
    (None, None),
])
def test_cells_that_start_like_a_formula_get_a_quote_plain_phone_numbers_do_not(value, written):
    assert escape_cell(value) == written


@pytest.mark.parametrize("value", ["=1+2", "+SUM(A1)", "-Anna-", "@home", "+4915752982212", "Anna", "", "'plain"])
def test_what_an_export_escaped_the_import_reads_back_unchanged(value):
    assert unescape_cell(escape_cell(value)) == value


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_csv_lines_start_with_the_byte_order_mark_and_quote_what_needs_it(delimiter):
    rows = [["number", "body"], ["+4915752982212", "Hallo; Grüße, bis bald\n=2"], ["=cmd", 7]]
    text = "".join(csv_lines(rows, delimiter))
    assert text.startswith("\ufeffnumber" + delimiter + "body\r\n")
    assert list(csv.reader(io.StringIO(text[1:]), delimiter=delimiter)) == [
        ["number", "body"], ["+4915752982212", "Hallo; Grüße, bis bald\n=2"], ["'=cmd", "7"]]


def test_csv_lines_come_in_blocks_not_a_write_per_line():
    rows = [["phone", "name"]] + [[f"+4915100{i:06d}", f"Name {i}"] for i in range(1000)]
    blocks = list(csv_lines(rows, block_size=4096))
    assert all(4096 <= len(block) < 4096 + 100 for block in blocks[:-1]) and 0 < len(blocks[-1]) < 4096 + 100
    assert list(csv.reader(io.StringIO("".join(blocks).lstrip("\ufeff")))) == rows


def test_a_workbook_holds_texts_as_text_cells_times_as_dates_and_no_control_characters():
    rows = [["phone", "note", "when", "count", "empty"],
            ["+4915752982212", "=SUM(A1)\x00\x1f", datetime(2026, 7, 1, 14, 0), 7, None]]
    sheet = load_workbook(xlsx_file(iter(rows), "Liste")).active
    header, row = sheet.iter_rows()
    assert sheet.title == "Liste" and [c.value for c in header] == rows[0]
    assert [(c.value, c.data_type) for c in row[:2]] == [("+4915752982212", "s"), ("=SUM(A1)", "s")]
    assert (row[2].value, row[2].number_format, row[3].value, row[4].value) == (
        datetime(2026, 7, 1, 14, 0), "yyyy-mm-dd hh:mm:ss", 7, None)


def test_csv_lines_write_times_as_spreadsheets_read_them_and_none_as_empty():
    text = "".join(csv_lines([["when", "none"], [datetime(2026, 7, 1, 14, 0, 5, 123), None]]))
    assert text == "\ufeffwhen,none\r\n2026-07-01 14:00:05,\r\n"
