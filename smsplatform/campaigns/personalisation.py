"""Newsletter personalisation: ``{name}``, ``{first_name}``, ``{last_name}``, ``{phone}`` in the body.

``{field|fallback}`` uses ``fallback`` when the contact's field is empty (``Hello {first_name|there}``).
Field names are case-insensitive; anything else in braces is left as written, so legacy bodies that
happen to contain braces are sent unchanged.
"""
import re
from dataclasses import dataclass

from smsplatform.messaging.segments import SegmentInfo, count_segments

FIELDS = ("name", "first_name", "last_name", "phone")
PLACEHOLDER = re.compile(r"\{\s*(" + "|".join(FIELDS) + r")\s*(?:\|([^{}]*))?\}", re.IGNORECASE)


def is_personalised(body: str) -> bool:
    return PLACEHOLDER.search(body) is not None


def contact_fields(name: str | None, phone: str | None) -> dict[str, str]:
    parts = (name or "").split()
    return {
        "name": " ".join(parts),
        "first_name": parts[0] if parts else "",
        "last_name": " ".join(parts[1:]),
        "phone": phone or "",
    }


def render(body: str, fields: dict[str, str]) -> str:
    def substitute(match: re.Match) -> str:
        value = fields.get(match.group(1).lower(), "")
        return value if value else (match.group(2) or "").strip()

    return PLACEHOLDER.sub(substitute, body)


@dataclass(frozen=True)
class Preview:
    text: str
    segments: SegmentInfo


def preview(body: str, name: str | None = None, phone: str | None = None) -> Preview:
    """The body as one contact would receive it, with its segment count (GSM-7/UCS-2 rules)."""
    text = render(body, contact_fields(name, phone))
    return Preview(text, count_segments(text))
