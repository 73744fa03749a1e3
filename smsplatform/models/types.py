"""Column types shared by the models."""
from datetime import datetime, timezone

from sqlalchemy import BigInteger, DateTime, Integer
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeDecorator

# SQLite only auto-increments INTEGER PRIMARY KEY; MariaDB gets BIGINT for ids that can grow past 2^31.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# The largest id either database holds (signed 64 bits); a larger number names no row, and SQLite cannot
# even bind it.
MAX_ROW_ID = 2 ** 63 - 1


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
