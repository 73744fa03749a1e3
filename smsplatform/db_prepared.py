"""Statements that run on every API call, run without SQLAlchemy's per-execution machinery.

``Connection.execute`` costs tens of µs of Python per statement (the compiled-cache lookup, an execution
context, the parameters rebuilt through every bind processor, a result object and its metadata): more than
SQLite's own work on a token lookup or a one-row insert. Running the three of an ``addsms`` this way took a
fifth off the whole call (BENCHMARKS.md, 2 (b)).

A ``PreparedStatement`` is compiled once per database dialect and runs on the session's own DBAPI
connection, inside the session's transaction, with the same type conversions (SQLAlchemy's bind and result
processors for each column). A driver error is raised as the ``sqlalchemy.exc`` error ``Connection.execute``
would raise, so callers and ``db_retry`` see no difference. When anything listens to the engine's statement
events (tests, tracing), it runs through ``Connection.execute`` instead, so every listener sees it.
"""
import weakref
from collections import namedtuple
from contextlib import suppress

from sqlalchemy import exc

from smsplatform.extensions import db


class PreparedStatement:
    """A Core statement run one row at a time: ``first(params)`` is ``connection.execute(statement,
    params).first()`` on the session's connection. An insert is compiled for the columns ``params`` names
    (once per set of names), and must name every column that has a Python-side default: it is not filled
    in here."""

    def __init__(self, statement):
        self.statement = statement
        self._by_dialect: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def first(self, params: dict):
        """The statement's first row (a named tuple, as a ``Row`` reads: by name or by index), or None."""
        connection = db.session.connection()
        dialect = connection.dialect
        if connection._has_events or connection.engine._has_events:
            return connection.execute(self.statement, params).first()
        by_names = self._by_dialect.get(dialect)
        if by_names is None:
            by_names = self._by_dialect[dialect] = {}
        names = tuple(params)
        compiled = by_names.get(names)
        if compiled is None:
            compiled = by_names[names] = _Compiled(self.statement, names, dialect)
        return compiled.first(connection, params)


class _Compiled:
    """One dialect's SQL text, parameter names and type conversions of a statement."""

    def __init__(self, statement, names: tuple[str, ...], dialect):
        compiled = statement.compile(dialect=dialect, column_keys=list(names))
        prefetched = [column.key for column in (compiled.insert_prefetch or compiled.update_prefetch)]
        if prefetched:
            raise ValueError(f"a prepared statement is given every column; missing: {prefetched}")
        if any(bind.expanding for bind in compiled.binds.values()) or compiled.escaped_bind_names:
            raise ValueError("a prepared statement has plain parameters: no IN lists, no names to escape")
        self.sql = compiled.string
        self.dbapi_error = dialect.loaded_dbapi.Error
        # By position (SQLite's ?, mysqlclient's %s) or by name (PyMySQL's %(name)s).
        self.positional = dialect.positional
        self.params = [(name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
                       for name in (compiled.positiontup if self.positional else compiled.binds)]
        returned = list(statement.selected_columns if hasattr(statement, "selected_columns")
                        else statement.exported_columns)
        self.results = [column.type.dialect_impl(dialect).result_processor(dialect, None) for column in returned]
        self.row = namedtuple("PreparedRow", [column.key for column in returned]) if returned else None

    def first(self, connection, params: dict):
        values = [process(params[name]) if process else params[name] for name, process in self.params]
        if not self.positional:
            values = dict(zip((name for name, _ in self.params), values))
        dbapi_connection = connection.connection
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(self.sql, values)
            raw = cursor.fetchone() if self.row is not None else None
        except self.dbapi_error as error:
            dialect = connection.dialect
            gone = dialect.is_disconnect(error, dbapi_connection, cursor)
            with suppress(self.dbapi_error):  # a connection that is gone may fail this too
                cursor.close()
            if gone:
                connection.invalidate(error)
            raise exc.DBAPIError.instance(self.sql, values, error, self.dbapi_error, connection_invalidated=gone,
                                          dialect=dialect) from error
        cursor.close()
        if raw is None:
            return None
        return self.row._make(process(value) if process else value for process, value in zip(self.results, raw))
