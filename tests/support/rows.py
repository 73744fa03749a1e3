"""Counting committed rows, to prove a call saved exactly so much, or (refused) nothing at all."""
from sqlalchemy import func, select

from smsplatform.extensions import db


def row_counts(*models) -> dict:
    """Rows per table name: of the tables of ``models``, or of every table when none is named.

    The session is rolled back first, so only what was committed counts (nothing the test left pending)."""
    db.session.rollback()
    tables = [model.__table__ for model in models] or db.metadata.sorted_tables
    return {table.name: db.session.scalar(select(func.count()).select_from(table)) for table in tables}
