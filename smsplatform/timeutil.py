"""UTC everywhere inside; zones only at the edges."""
import re
from datetime import datetime, timedelta, timezone, tzinfo
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from smsplatform.errors import ValidationError

UTC = timezone.utc
# The years an input date may name. The last one leaves a day to spare, so the time can be shown in any
# zone (up to UTC+14) and a day added to it (an end date's whole day) without leaving Python's range.
FIRST_YEAR, LAST_YEAR = 1970, 9998

_INPUT_FORMATS = (
    ("%Y-%m-%d %H:%M:%S", re.compile(r"^\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{1,2}:\d{1,2}$")),
    ("%Y-%m-%d %H:%M", re.compile(r"^\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{1,2}$")),
    ("%Y-%m-%d", re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")),
    ("%d.%m.%Y %H:%M:%S", re.compile(r"^\d{1,2}\.\d{1,2}\.\d{4} \d{1,2}:\d{1,2}:\d{1,2}$")),
    ("%d.%m.%Y %H:%M", re.compile(r"^\d{1,2}\.\d{1,2}\.\d{4} \d{1,2}:\d{1,2}$")),
    ("%d.%m.%Y", re.compile(r"^\d{1,2}\.\d{1,2}\.\d{4}$")),
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def zone(name: str | None) -> ZoneInfo:
    """A ZoneInfo for ``name``, matched case-insensitively as PHP matches it (``australia/sydney`` is
    ``Australia/Sydney``, its key); raises ValidationError for an unknown zone."""
    text = (name or "UTC").strip()
    try:  # the zone's own name first: a case-insensitive disk would load "europe/berlin" under that key
        return ZoneInfo(_zone_names().get(text.lower(), text))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"unknown time zone {name!r}", field="timezone") from exc


# A fixed UTC offset as PHP's DateTimeZone takes one: +02:00, -0530, +2. A leading space is the "+" a
# GET query turned into a space.
_UTC_OFFSET = re.compile(r"^([+\- ])(\d{1,2})(?::?(\d{2}))?$")


def zone_or_offset(name: str | None) -> tzinfo:
    """The zone a legacy call asks for its dates in: a zone name (``zone``) or a fixed UTC offset, which
    answers PHP's ``timezone_type`` 1 (``php_date``)."""
    match = _UTC_OFFSET.match((name or "").rstrip())
    if match is None:
        return zone(name)
    hours, minutes = int(match.group(2)), int(match.group(3) or 0)
    if hours > 14 or minutes > 59 or (hours == 14 and minutes):
        raise ValidationError(f"time zone offset {name.strip()!r} is out of range (-14:00 to +14:00)", field="timezone")
    offset = timedelta(hours=hours, minutes=minutes) * (-1 if match.group(1) == "-" else 1)
    sign = "-" if offset < timedelta(0) else "+"  # -00:00 is +00:00, as PHP writes it
    return timezone(offset, f"{sign}{hours:02d}:{minutes:02d}")


@cache
def _zone_names() -> dict[str, str]:
    return {key.lower(): key for key in available_timezones()}


@cache
def zone_choices() -> list[str]:
    """The zones a person picks from: ``Region/City`` names and ``UTC``, sorted (not ``EST`` or ``GMT+0``)."""
    return sorted(key for key in _zone_names().values() if "/" in key or key == "UTC")


def zone_country(key: str) -> str | None:
    """The ISO 3166 country of a zone (``Europe/Berlin`` → ``DE``), from the tz database's ``zone.tab``, also
    under a zone's older names (``Asia/Calcutta``, which browsers still report); None for zones of no
    country (``UTC``, ``Etc/GMT+2``)."""
    return _zone_countries().get(key)


@cache
def _zone_countries() -> dict[str, str]:
    data = resources.files("tzdata.zoneinfo")
    countries = {}
    for line in data.joinpath("zone.tab").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            country, _coordinates, key = line.split("\t")[:3]
            countries[key] = country
    for line in data.joinpath("tzdata.zi").read_text(encoding="utf-8").splitlines():
        if line.startswith("L "):  # "L Asia/Kolkata Asia/Calcutta": a link from an older name
            _, target, alias = line.split()
            if target in countries:
                countries.setdefault(alias, countries[target])
    return countries


def is_valid_zone(name: str) -> bool:
    try:
        zone(name)
        return True
    except ValidationError:
        return False


# What JavaScript's URLSearchParams writes for a missing value: legacy parameters read it as absent.
NULL_WORDS = frozenset({"null", "undefined"})
_NO_TIME = {"", "0", *NULL_WORDS, "0000-00-00", "0000-00-00 00:00", "0000-00-00 00:00:00"}


def means_now(value) -> bool:
    """A legacy send time that means "now": absent, empty, ``"0"`` or ``0``, JavaScript's ``null`` or
    ``undefined`` written out, or MySQL's zero date (a PHP client's "no date")."""
    if value is None or isinstance(value, bool):
        return value is None
    if isinstance(value, (int, float)):
        return value == 0
    return isinstance(value, str) and value.strip().lower() in _NO_TIME


def parse_local_datetime(value: str, tz: str | tzinfo, field: str) -> datetime:
    """Parse a legacy input date-time; a naive value is in ``tz`` (a zone name or a tzinfo). Returns an
    aware UTC datetime.

    Accepts ``YYYY-MM-DD[ HH:MM[:SS]]``, an ISO-8601 value with ``T`` and/or an offset, and
    ``DD.MM.YYYY[ H:i[:s]]``.
    """
    parsed, _unit = _parse_input(value, field)
    return _in_zone(parsed, tz).astimezone(UTC)


def parse_local_end(value: str, tz: str | tzinfo, field: str) -> datetime:
    """The first moment after the time ``value`` names, taken whole (as ``parse_local_datetime`` reads it):
    after its day for a date alone, its minute for ``HH:MM``, its second for ``HH:MM:SS``. An end date is
    "up to and including" what it names, and the answers show whole seconds while the times stored hold
    their fractions. Returns an aware UTC datetime, an exclusive bound."""
    parsed, unit = _parse_input(value, field)
    if parsed.tzinfo is None:
        return _in_zone(parsed + unit, tz).astimezone(UTC)
    return (parsed + unit).astimezone(UTC)


_UNITS = {"%S": timedelta(seconds=1), "%M": timedelta(minutes=1)}


def _parse_input(value: str, field: str) -> tuple[datetime, timedelta]:
    """The date-time a legacy input names, naive unless it carries an offset, and the unit it is given in."""
    text = (value or "").strip()
    if not text:
        raise ValidationError(f"{field} is empty", field=field)
    parsed = None
    for fmt, pattern in _INPUT_FORMATS:
        if pattern.match(text):
            try:
                parsed = datetime.strptime(text, fmt)
            except ValueError as exc:
                raise ValidationError(f"{field} is not a valid date: {text!r}", field=field) from exc
            unit = next((step for code, step in _UNITS.items() if code in fmt), timedelta(days=1))
            break
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValidationError(
                f"{field} must look like YYYY-MM-DD HH:MM:SS or DD.MM.YYYY HH:MM:SS (the time may be left out), "
                f"got {text[:40]!r}", field=field
            ) from exc
        unit = timedelta(microseconds=1) if parsed.microsecond or "." in text or "," in text else timedelta(seconds=1)
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        raise ValidationError(f"{field} is out of range (years {FIRST_YEAR} to {LAST_YEAR}): {text[:40]!r}",
                              field=field)
    return parsed, unit


def _in_zone(parsed: datetime, tz: str | tzinfo) -> datetime:
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz if isinstance(tz, tzinfo) else zone(tz))


def as_utc(value: datetime | None) -> datetime | None:
    """Interpret a naive datetime from the database as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_zone(value: datetime, tz_name: str) -> datetime:
    return as_utc(value).astimezone(zone(tz_name))


# A send time typed in the dashboard this far in the past passed while the form was filled in (its input
# has whole minutes): it means now. One further back is refused, since a wrong day or zone would otherwise
# go out at once (the legacy API keeps its own rule: any past time means now).
PAST_SEND_TIME_GRACE = timedelta(minutes=5)


def past_send_time_error(when: datetime, now: datetime, tz_name: str, field: str) -> ValidationError:
    """The refusal of a send time ``when`` that has passed, both times shown in the account's zone."""
    shown, now_shown = (to_zone(t, tz_name).strftime("%Y-%m-%d %H:%M") for t in (when, now))
    return ValidationError(f"the send time {shown} ({tz_name}) has passed: it is now {now_shown} there; "
                           "choose a later time, or leave it empty to send now", field=field)


def iso_millis(value: datetime | None) -> str | None:
    """``2026-07-10T05:00:00.000Z``: exactly three fractional digits, as the phone app parses them."""
    if value is None:
        return None
    return as_utc(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Android < 7 writes a negative offset as "+-5:00", "+-10:00" or, with minutes, "+-3:-30".
_ANDROID_NEGATIVE_OFFSET = re.compile(r"\+-(\d{1,2}):-?(\d{2})$")
# Phone dates outside these years are a broken clock or garbage (and years below 1000 do not fit MariaDB).
_PHONE_YEARS = (1970, 9998)


def parse_phone_datetime(value, default: datetime | None = None) -> datetime:
    """Lenient parse of a date the phone app sent (ISO with odd offsets, or epoch millis); never raises:
    what cannot be read, or lies outside 1970-9998, is ``default`` (now)."""
    fallback = default or utcnow()
    if value is None:
        return fallback
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            parsed = datetime.fromtimestamp(value / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            return fallback
        return parsed if _PHONE_YEARS[0] <= parsed.year <= _PHONE_YEARS[1] else fallback
    if not isinstance(value, str):
        return fallback
    text = value.strip().replace("Z", "+00:00")
    # Repair what older Android versions write: the negative offsets above, "+0000", "+5:00".
    text = _ANDROID_NEGATIVE_OFFSET.sub(lambda m: f"-{int(m.group(1)):02d}:{m.group(2)}", text)
    text = re.sub(r"([+-])(\d):(\d{2})$", r"\g<1>0\2:\3", text)
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
    try:
        parsed = datetime.fromisoformat(text)
        parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 at +14:00 is before year 1 in UTC
        return fallback
    return parsed if _PHONE_YEARS[0] <= parsed.year <= _PHONE_YEARS[1] else fallback


def ago(seconds: float, now: datetime | None = None) -> datetime:
    return (now or utcnow()) - timedelta(seconds=seconds)
