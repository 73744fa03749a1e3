"""A real InnoDB deadlock: the victim's unit of work is rolled back and run again, and both writers land."""
import threading

import pytest
from sqlalchemy import select, text

from smsplatform.db_retry import retry_on_deadlock
from smsplatform.extensions import db
from smsplatform.models import Account
from tests.conftest import database_is_mariadb

pytestmark = pytest.mark.skipif(not database_is_mariadb(), reason="InnoDB deadlocks need MariaDB")


def test_engine_uses_read_committed(app):
    level = db.session.execute(text("SELECT @@tx_isolation")).scalar()
    assert level == "READ-COMMITTED"


def test_deadlock_victim_is_retried_and_both_transactions_commit(app, make_account):
    first, _ = make_account(email="a@example.com")
    second, _ = make_account(email="b@example.com")
    ids = (first.id, second.id)
    barrier = threading.Barrier(2)
    attempts = {"forward": 0, "backward": 0}
    errors = []

    def lock_in_order(name, order):
        @retry_on_deadlock
        def unit_of_work():
            attempts[name] += 1
            for position, account_id in enumerate(order):
                account = db.session.scalar(select(Account).where(Account.id == account_id).with_for_update())
                account.timezone = "Europe/Berlin" if name == "forward" else "Asia/Tokyo"
                db.session.flush()
                if position == 0 and attempts[name] == 1:
                    barrier.wait(timeout=10)  # both hold their first row: the second lock closes the cycle
            db.session.commit()

        with app.app_context():  # its own scoped session; apps are not built in threads (CPython 3.11 AST race)
            try:
                unit_of_work()
            except Exception as error:  # reported to the main thread
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=lock_in_order, args=("forward", ids)),
               threading.Thread(target=lock_in_order, args=("backward", ids[::-1]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(attempts.values()) == [1, 2]  # exactly one victim, run once more
    db.session.expire_all()
    zones = set(db.session.scalars(select(Account.timezone).where(Account.id.in_(ids))))
    assert len(zones) == 1  # the retried transaction committed last and wrote both rows
