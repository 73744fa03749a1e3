"""The contacts file, both ways: the columns an export writes, which the import reads back, and how one
cell holds several tags. An exported list imported into another account gives the same contacts, names,
tags and opt-outs (``tests/web/test_contact_export.py``)."""
import re
from collections.abc import Iterable, Iterator

from smsplatform.spreadsheets import local_time

EXPORT_HEADER = ("phone", "name", "tags", "opted_out", "opted_out_at", "opt_out_reason", "created")
TAG_SEPARATORS = re.compile(r"[|;,]")  # in a cell without "|"; where there is one, it alone separates


def exported_rows(contacts: Iterable, tz_name: str) -> Iterator[list]:
    """The export: ``EXPORT_HEADER``, then a row per contact (a ``services.ExportedContact``), times in
    ``tz_name``. The import reads ``phone``, ``name``, ``tags`` and ``opted_out``; the rest is for people."""
    yield list(EXPORT_HEADER)
    for contact in contacts:
        yield [contact.phone, contact.name, tags_cell(contact.tags), "yes" if contact.opted_out else "no",
               local_time(contact.opted_out_at, tz_name), contact.opt_out_reason, local_time(contact.created_at, tz_name)]


def split_tags(cell: str) -> list[str]:
    """The tag titles in a cell: "VIP|Berlin", "VIP; Berlin" or "VIP, Berlin". Where the cell holds a
    ``|``, it alone separates, so that a title with a comma ("Berlin, Mitte") survives an export."""
    parts = cell.split("|") if "|" in cell else TAG_SEPARATORS.split(cell)
    return [title for title in (" ".join(part.split()) for part in parts) if title]


def tags_cell(titles: list[str]) -> str:
    """The cell ``split_tags`` reads ``titles`` back from: joined by ``|``, and ended by one when a lone
    title holds a ``,`` or ``;`` (a title holding ``|`` itself cannot come back whole)."""
    cell = "|".join(titles)
    return cell + "|" if len(titles) == 1 and TAG_SEPARATORS.search(cell) else cell
