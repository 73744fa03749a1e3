"""Phone number normalisation: E.164 where ``phonenumbers`` can parse it, dialable digits otherwise."""
import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

from smsplatform.errors import ValidationError

MAX_RAW_LENGTH = 64
_DIALABLE = re.compile(r"[^0-9+*#]")
_NON_DIGIT = re.compile(r"\D")
# " 4915…" is "+4915…" that a GET query turned into a space; " 0157…" is a national number with a
# stray space (no country code starts with 0).
SPACE_FOR_PLUS = re.compile(r"^ +[1-9]")
# 4.91575E+12 or 4,91575E+12: how a spreadsheet shows (and saves, and a script reads) a long number.
SCIENTIFIC_NOTATION = re.compile(r"^\+?[0-9]([.,][0-9]+)?[eE]\+?[0-9]+$")
# 4915752982212.0: a number that a script or a spreadsheet held as a float, written out (Python, pandas);
# the ".0" is no digit of it.
WHOLE_FLOAT = re.compile(r"^(\+?[0-9]+)\.0+$")
# Results for recent (raw, region, prefixes, field): senders message the same numbers again and again,
# and parsing costs far more than the lookup. Bounded; a ``Phone`` is immutable, so sharing is safe.
CACHE_SIZE = 4096


@dataclass(frozen=True)
class Phone:
    raw: str          # what the client sent, untouched
    normalized: str   # E.164 (+4915752982212), or the dialable digits when it cannot be parsed as E.164


def normalize_phone(raw, region: str | None = None, plus_prefixes: tuple[str, ...] = (), field: str = "sendto") -> Phone:
    """Normalise one number.

    ``plus_prefixes`` is the device rule "add a plus if the number starts with …" (e.g. ``("91",)``).
    A leading space before a digit 1-9 is a ``+`` that a GET query turned into a space.
    National numbers that cannot become E.164 (no default region) are kept as dialable digits,
    because the phone can still dial them; only input with no digits at all is rejected.
    """
    if isinstance(raw, str) and isinstance(plus_prefixes, tuple) and (region is None or isinstance(region, str)):
        return _normalize_cached(raw, region, plus_prefixes, field)
    return _normalize(raw, region, plus_prefixes, field)


@lru_cache(maxsize=CACHE_SIZE)
def _normalize_cached(raw: str, region: str | None, plus_prefixes: tuple[str, ...], field: str) -> Phone:
    return _normalize(raw, region, plus_prefixes, field)


def _normalize(raw, region: str | None, plus_prefixes, field: str) -> Phone:
    if raw is None:
        raise ValidationError(f"{field} is required", field=field)
    original = str(raw)
    if len(original) > MAX_RAW_LENGTH:
        raise ValidationError(f"{field} is too long (at most {MAX_RAW_LENGTH} characters)", field=field)
    text = original
    if SPACE_FOR_PLUS.match(text):
        text = "+" + text.lstrip(" ")
    text = text.strip()
    if SCIENTIFIC_NOTATION.match(text):  # its digits would make another, real number ("4912")
        raise ValidationError(f"{field} {original!r} is a number in scientific notation, as a spreadsheet shows a "
                              "long number: its last digits are lost. Send the number as text", field=field)
    if whole := WHOLE_FLOAT.match(text):
        text = whole.group(1)
    if text.startswith("00") and len(text) > 4:
        text = "+" + text[2:]
    dialable = _DIALABLE.sub("", text)
    digits = _NON_DIGIT.sub("", dialable)
    if not digits:
        raise ValidationError(f"{field} {original!r} is not a phone number", field=field)
    if not dialable.startswith("+") and any(digits.startswith(p) for p in plus_prefixes if p):
        dialable = "+" + digits
    if len(digits) < 3 or len(digits) > 17:
        raise ValidationError(f"{field} {original!r} has {len(digits)} digits; expected 3 to 17", field=field)
    try:
        number = phonenumbers.parse(dialable, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_possible_number(number):
        return Phone(raw=original, normalized=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    if dialable.startswith("+"):
        return Phone(raw=original, normalized="+" + digits)
    return Phone(raw=original, normalized=dialable.replace("+", ""))


def is_valid_region(region: str | None) -> bool:
    return region is None or region.upper() in phonenumbers.SUPPORTED_REGIONS
