"""The query planner's table statistics on SQLite.

SQLite plans without statistics until ANALYZE runs, and nothing runs it by itself. Without them it
may answer ``getallsms`` for one number (several stored forms of it, ``phone IN (…)``) by reading the
whole account in date order instead of the number's few rows. MariaDB keeps its own statistics
(InnoDB recalculates them as tables change), so there this is a no-op.
"""
from sqlalchemy import text

from smsplatform.extensions import db

# Rows sampled per index: enough for the planner's choices, and ANALYZE stays quick on a table of
# millions (a full ANALYZE reads every index whole).
ANALYSIS_ROWS_PER_INDEX = 1000


def refresh_planner_statistics() -> bool:
    """Refresh the planner's statistics (SQLite); True when something ran."""
    connection = db.session.connection()
    if connection.dialect.name != "sqlite":
        return False
    connection.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_ROWS_PER_INDEX}")
    connection.execute(text("ANALYZE"))
    return True
