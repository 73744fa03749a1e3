"""Column types shared by the models, and reading a row id from input."""
import re
from datetime import datetime, timezone

from sqlalchemy import BigInteger, DateTime, Integer
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeDecorator

from smsplatform.errors import NotFoundError, ValidationError

# SQLite only auto-increments INTEGER PRIMARY KEY; MariaDB gets BIGINT for ids that can grow past 2^31.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# The largest id either database holds (signed 64 bits); a larger number names no row, and SQLite cannot
# even bind it.
MAX_ROW_ID = 2 ** 63 - 1
_ROW_ID = re.compile(r"\s*([+-]?)([0-9]+)\s*")  # ASCII digits: \d would take "١٢" too
_MAX_ROW_ID_DIGITS = len(str(MAX_ROW_ID))


def parse_row_id(value, field: str, *, signed: bool = False, expected: str = "a number",
                 noun: str | None = None) -> int:
    """The id ``value`` names: an int, or a string of decimal digits (spaces around it ignored; a sign too when
    ``signed``: a negative id is then well-formed, and names no row).

    Anything else (booleans, floats, None, "", "1.5", "1e3", "1_000"; "-3" and "+3" unless ``signed``) is
    ValidationError "``field`` must be ``expected``, got …". A number past a BIGINT, of any length, is
    NotFoundError "``noun`` (default: ``field``) … not found": no row can have it, and SQLite cannot bind it."""
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and (match := _ROW_ID.fullmatch(value)) and (signed or not match[1]):
        digits = match[2].lstrip("0")
        # More digits than a BIGINT has: past it, without reading them (int() refuses over 4,300 digits).
        number = int(match[1] + (digits or "0")) if len(digits) <= _MAX_ROW_ID_DIGITS else MAX_ROW_ID + 1
    if number is None or (number < 0 and not signed):
        raise ValidationError(f"{field} must be {expected}, got {str(value)[:40]!r}", field=field)
    if abs(number) > MAX_ROW_ID:
        raise NotFoundError(f"{noun or field} {str(value).strip()[:40]} not found", field=field)
    return number


def parse_row_ids(values, field: str, **wording) -> list[int]:
    """Each of ``values`` (None: none) read by ``parse_row_id``, in their order, each once."""
    return list(dict.fromkeys(parse_row_id(value, field, **wording) for value in values or ()))


class UTCDateTime(TypeDecorator):
    """Stored as a naive UTC DATETIME (microseconds on MariaDB); always read back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect):
        return None if value is None else value.replace(tzinfo=timezone.utc)
