"""Newsletter personalisation: ``{name}``, ``{first_name}``, ``{last_name}``, ``{phone}`` in the body.

``{field|fallback}`` uses ``fallback`` when the contact's field is empty (``Hello {first_name|there}``).
Field names are case-insensitive; anything else in braces is left as written, so legacy bodies that
happen to contain braces are sent unchanged.
"""
import re
from dataclasses import dataclass

from sqlalchemy import String, case, func, literal

from smsplatform.messaging.segments import SegmentInfo, count_segments
from smsplatform.models import Contact

FIELDS = ("name", "first_name", "last_name", "phone")
PLACEHOLDER = re.compile(r"\{\s*(" + "|".join(FIELDS) + r")\s*(?:\|([^{}]*))?\}", re.IGNORECASE)
# The longest value each field can have: a contact's name and number are at most their columns' lengths.
_NAME_MAX = Contact.__table__.c.name.type.length
FIELD_MAX = {"name": _NAME_MAX, "first_name": _NAME_MAX, "last_name": _NAME_MAX,
             "phone": Contact.__table__.c.phone.type.length}


def is_personalised(body: str) -> bool:
    return PLACEHOLDER.search(body) is not None


def contact_fields(name: str | None, phone: str | None) -> dict[str, str]:
    """The placeholder values of a contact; first/last name split at the first space."""
    parts = (name or "").split()
    return {
        "name": " ".join(parts),
        "first_name": parts[0] if parts else "",
        "last_name": " ".join(parts[1:]),
        "phone": phone or "",
    }


def longest_rendering(body: str) -> int:
    """The most characters ``body`` can have once rendered for any contact: each placeholder as its field's
    longest value (``FIELD_MAX``) or its fallback, whichever is longer."""
    return len(body) + sum(max(FIELD_MAX[match.group(1).lower()], len((match.group(2) or "").strip()))
                           - len(match.group(0)) for match in PLACEHOLDER.finditer(body))


def render(body: str, fields: dict[str, str]) -> str:
    def substitute(match: re.Match) -> str:
        value = fields.get(match.group(1).lower(), "")
        return value if value else (match.group(2) or "").strip()

    return PLACEHOLDER.sub(substitute, body)


def sql_render(body: str, name_column, phone_column):
    """The same rendering as :func:`render`, as a SQL expression over the contact's columns.

    Contact names are stored whitespace-normalised (single spaces, trimmed), so splitting at the first
    space in SQL gives the same first and last name as ``str.split`` in :func:`contact_fields`.
    """
    space = func.instr(name_column, " ")
    values = {
        "name": name_column,
        "first_name": case((space > 0, func.substr(name_column, 1, space - 1)), else_=name_column),
        "last_name": case((space > 0, func.substr(name_column, space + 1)), else_=""),
        "phone": phone_column,
    }
    parts, position = [], 0
    for match in PLACEHOLDER.finditer(body):
        if match.start() > position:
            parts.append(literal(body[position:match.start()], String()))
        fallback = literal((match.group(2) or "").strip(), String())
        parts.append(func.coalesce(func.nullif(values[match.group(1).lower()], ""), fallback, type_=String()))
        position = match.end()
    if position < len(body):
        parts.append(literal(body[position:], String()))
    expression = parts[0]
    for part in parts[1:]:
        expression = expression.concat(part)
    return expression


@dataclass(frozen=True)
class Preview:
    text: str
    segments: SegmentInfo


def preview(body: str, name: str | None = None, phone: str | None = None) -> Preview:
    """The body as one contact would receive it, with its segment count (GSM-7/UCS-2 rules)."""
    text = render(body, contact_fields(name, phone))
    return Preview(text, count_segments(text))
