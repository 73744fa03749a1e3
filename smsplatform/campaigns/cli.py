"""``flask newsletters …``: operator commands for newsletters, each printing one JSON object."""
import json

import click
from flask.cli import with_appcontext

from smsplatform.campaigns import services
from smsplatform.errors import DomainError
from smsplatform.extensions import db


def _emit(payload: dict) -> None:
    click.echo(json.dumps(payload))


@click.group("newsletters")
def newsletters_cli():
    """Start due newsletters, (re)run a fan-out, finish completed ones."""


@newsletters_cli.command("fan-out")
@click.argument("paket_id", type=int)
@click.option("--batch-size", default=services.FANOUT_BATCH, show_default=True, type=click.IntRange(1))
@with_appcontext
def fan_out(paket_id, batch_size):
    """Write the messages of a running newsletter, committing each batch; safe to re-run after a crash."""
    try:
        total = services.fan_out(paket_id, batch_size=batch_size, commit=db.session.commit)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        _emit({"error": error.message})
        raise SystemExit(1)
    _emit({"paket_id": paket_id, "total_recipients": total})


@newsletters_cli.command("start-due")
@with_appcontext
def start_due():
    """Run the scheduler's job once: start the newsletters whose time has come."""
    started = services.start_due_newsletters()
    finished = services.finish_completed()
    db.session.commit()
    _emit({"started": started, "finished": finished})
