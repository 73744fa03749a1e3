"""Prepared statements (``smsplatform.db_prepared``) read, write and fail as ``Connection.execute`` does,
on every driver the platform runs on: SQLite's; on MariaDB mysqlclient (scheduler, CLI: parameters by
position) and PyMySQL (the gevent web workers: parameters by name)."""
from datetime import datetime, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, bindparam, create_engine, event, exc, make_url, select, text

from smsplatform import create_app
from smsplatform.accounts import services as accounts
from smsplatform.db_prepared import PreparedStatement
from smsplatform.db_retry import is_retryable
from smsplatform.extensions import db
from smsplatform.messaging import service
from smsplatform.models import ApiToken, Message
from tests.conftest import database_is_mariadb

USED_AT = datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=timezone.utc)
pytestmark = pytest.mark.usefixtures("driver")


@pytest.fixture(params=["mysqldb", "pymysql"] if database_is_mariadb() else ["pysqlite"])
def driver(request, app, base_config):
    """Each test runs once per driver: PyMySQL's in an app of its own, its context pushed for the test."""
    if request.param != "pymysql":
        yield request.param
        return
    url = make_url(base_config["SQLALCHEMY_DATABASE_URI"]).set(drivername="mysql+pymysql")
    with create_app({**base_config, "SQLALCHEMY_DATABASE_URI": url.render_as_string(hide_password=False)}).app_context():
        assert db.engine.dialect.driver == "pymysql" and not db.engine.dialect.positional
        yield request.param
        db.session.remove()
        db.engine.dispose()


def executed(statement, params):
    return db.session.connection().execute(statement, params).first()


@pytest.fixture
def token_used(account):
    """(account, token hash) of a token whose last use is stamped, to read a datetime back."""
    owner, token = account
    row = db.session.scalars(select(ApiToken).where(ApiToken.account_id == owner.id)).one()
    row.last_used_at = USED_AT
    db.session.commit()
    return owner, accounts.hash_secret(token)


def test_a_prepared_row_reads_as_the_executed_row(token_used, make_device):
    owner, token_hash = token_used
    device = make_device(owner, slots="2,3", default_region="DE", plus_prefixes="49,43",
                         sim_cards=[{"slotIndex": 1, "carrierName": "Tëlekom"}])
    for prepared, params in ((accounts._ACCOUNT_BY_TOKEN_HASH, {"token_hash": token_hash}),
                             (service._LIVE_DEVICE, {"device_id": device.id, "account_id": owner.id})):
        row = prepared.first(params)
        assert row is not None and prepared._by_dialect  # compiled for this database: not run by execute
        reference = executed(prepared.statement, params)
        assert row == tuple(reference) and row._fields == reference._fields
        assert [type(value) for value in row] == [type(value) for value in reference]
    account_row = accounts._ACCOUNT_BY_TOKEN_HASH.first({"token_hash": token_hash})
    assert account_row.last_used_at == USED_AT and account_row.last_used_at.tzinfo is not None
    assert account_row.allow_direct_to_opted_out is True
    assert service._LIVE_DEVICE.first({"device_id": device.id, "account_id": owner.id}).sim_cards[0]["carrierName"] == "Tëlekom"


def test_no_row_is_none(account, make_device):
    owner, _ = account
    device = make_device(owner)
    assert accounts._ACCOUNT_BY_TOKEN_HASH.first({"token_hash": "0" * 64}) is None
    assert service._LIVE_DEVICE.first({"device_id": device.id, "account_id": owner.id + 1}) is None


def test_statement_listeners_see_it_run_through_execute(token_used):
    _, token_hash = token_used
    prepared = PreparedStatement(accounts._ACCOUNT_BY_TOKEN_HASH.statement)
    seen = []

    def record(_connection, _cursor, statement, _parameters, _context, _executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert prepared.first({"token_hash": token_hash}).last_used_at == USED_AT
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert len(seen) == 1 and "api_tokens.token_hash" in seen[0]
    assert not prepared._by_dialect


def message_row(owner, device, **fields) -> dict:
    now = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
    return {"account_id": owner.id, "device_id": device.id, "sendto": "0151 234", "phone": "+49151234", "body": "hi",
            "segments": 1, "encoding": "GSM-7", "sim": 1, "customer_id": 2**62, "urgent": True, "priority": 100,
            "status": 1, "ready": False, "time_to_send": now, "due_at": now, "created_at": now, "updated_at": now,
            "handed_count": 0, "failed_unacknowledged": False, "media_object_id": None, "media_url": None, **fields}


def test_an_insert_stores_what_it_is_given(account, make_device):
    owner, _ = account
    device = make_device(owner)
    row = message_row(owner, device)
    message_id = service._INSERT_MESSAGE.first(row).id
    db.session.commit()
    message = db.session.get(Message, message_id)
    assert {name: getattr(message, name) for name in row} == row


def test_an_insert_without_a_column_that_has_a_python_default_is_refused(account, make_device):
    owner, _ = account
    device = make_device(owner)
    row = message_row(owner, device)
    del row["handed_count"]
    with pytest.raises(ValueError, match="handed_count"):
        PreparedStatement(service._INSERT_MESSAGES).first(row)
    db.session.rollback()
    assert db.session.scalar(select(Message.id)) is None


def test_a_driver_error_is_the_error_execute_raises(account, make_device):
    owner, _ = account
    device = make_device(owner)
    missing = Table("no_such_table", MetaData(), Column("id", Integer, primary_key=True))
    for statement, params in ((select(missing.c.id).where(missing.c.id == bindparam("id")), {"id": 1}),
                              (service._INSERT_MESSAGES, message_row(owner, device, device_id=device.id + 1000))):
        with pytest.raises(exc.DBAPIError) as by_execute:
            executed(statement, params)
        db.session.rollback()
        with pytest.raises(exc.DBAPIError) as prepared:
            PreparedStatement(statement).first(params)
        db.session.rollback()
        assert type(prepared.value) is type(by_execute.value)
        assert type(prepared.value.orig) is type(by_execute.value.orig)
        assert prepared.value.orig.args == by_execute.value.orig.args
    assert isinstance(prepared.value, exc.IntegrityError)  # the unknown device of the second one
    assert service._LIVE_DEVICE.first({"device_id": device.id, "account_id": owner.id}).id == device.id


@pytest.mark.skipif(not database_is_mariadb(), reason="a server connection that can be killed")
def test_a_connection_killed_under_it_is_dropped_and_the_next_request_gets_another(token_used):
    _, token_hash = token_used
    assert accounts._ACCOUNT_BY_TOKEN_HASH.first({"token_hash": token_hash}) is not None
    connection_id = db.session.execute(text("SELECT CONNECTION_ID()")).scalar()
    other = create_engine(db.engine.url)
    try:
        with other.connect() as killer:
            killer.execute(text(f"KILL {int(connection_id)}"))
    finally:
        other.dispose()
    with pytest.raises(exc.OperationalError) as error:
        accounts._ACCOUNT_BY_TOKEN_HASH.first({"token_hash": token_hash})
    assert error.value.connection_invalidated
    db.session.rollback()
    assert accounts._ACCOUNT_BY_TOKEN_HASH.first({"token_hash": token_hash}).last_used_at == USED_AT
    assert db.session.execute(text("SELECT CONNECTION_ID()")).scalar() != connection_id


@pytest.mark.skipif(not database_is_mariadb(), reason="InnoDB's row locks")
def test_a_lock_wait_timeout_is_an_error_the_deadlock_retry_runs_again(account, make_device):
    """The insert's foreign-key check waits for a device row another transaction has locked; InnoDB gives up
    (error 1205) and the error is one ``retry_on_deadlock`` retries, as it is from ``execute``."""
    owner, _ = account
    device = make_device(owner)
    other = create_engine(db.engine.url)
    try:
        with other.connect() as holder:
            holder.execute(text("SELECT id FROM devices WHERE id = :id FOR UPDATE"), {"id": device.id})
            db.session.execute(text("SET SESSION innodb_lock_wait_timeout = 1"))
            with pytest.raises(exc.OperationalError) as error:
                service._INSERT_MESSAGE.first(message_row(owner, device))
            holder.rollback()
    finally:
        other.dispose()
    assert error.value.orig.args[0] == 1205 and is_retryable(error.value)
    db.session.rollback()
    assert db.session.scalar(select(Message.id)) is None
    db.session.execute(text("SET SESSION innodb_lock_wait_timeout = DEFAULT"))  # the pooled connection's
