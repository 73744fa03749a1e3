"""Case-insensitive text search that folds every letter, on both databases.

MariaDB's utf8mb4 collations fold case in any script. SQLite's LIKE and ``lower()`` fold only ASCII, so
``MÜLLER`` would not find "Müller". Every SQLite connection therefore gets a ``casefold()`` function
(Python's ``str.casefold``, registered by ``register_casefold``), and on SQLite ``contains_any_case``
puts both sides of the LIKE through it. The searches it serves start with ``%``, which no index can
serve: they read the account's rows through its ``account_id`` index either way, and the function
costs a call per such row, not an index.
"""
from sqlalchemy import func

from smsplatform.extensions import db


def register_casefold(dbapi_connection) -> None:
    """On a new SQLite connection: the ``casefold()`` SQL function."""
    dbapi_connection.create_function("casefold", 1, _casefold, deterministic=True)


def _casefold(value):
    return value.casefold() if isinstance(value, str) else value


def contains_any_case(column, pattern: str):
    """``column LIKE pattern`` (``\\`` escapes) in any letter case, in any script."""
    if db.session.get_bind().dialect.name == "sqlite":
        return func.casefold(column).like(func.casefold(pattern), escape="\\")
    return column.ilike(pattern, escape="\\")
