"""The Inbox's conversations: one row per number that wrote to an account, kept as incoming SMS are stored."""
from datetime import datetime

from sqlalchemy import case
from sqlalchemy.dialects import mysql, sqlite

from smsplatform.extensions import db
from smsplatform.models import Conversation

_TABLE = Conversation.__table__


def count_incoming(account_id: int, phone: str, at: datetime) -> None:
    """One more incoming SMS from ``phone``, stored at ``at``: the number's conversation is created, or its
    count goes up and its time moves to ``at`` if that is later. One statement, so that two SMS from one
    number stored at once (two phones, two workers) both count: MariaDB makes the second wait for the
    first's row, SQLite has one writer."""
    on_sqlite = db.session.get_bind().dialect.name == "sqlite"
    statement = (sqlite.insert if on_sqlite else mysql.insert)(_TABLE).values(
        account_id=account_id, phone=phone, last_at=at, received=1)
    new = statement.excluded if on_sqlite else statement.inserted
    changes = {"received": _TABLE.c.received + 1,
               "last_at": case((new.last_at > _TABLE.c.last_at, new.last_at), else_=_TABLE.c.last_at)}
    if on_sqlite:
        statement = statement.on_conflict_do_update(index_elements=[_TABLE.c.account_id, _TABLE.c.phone], set_=changes)
    else:
        statement = statement.on_duplicate_key_update(changes)
    db.session.execute(statement)
