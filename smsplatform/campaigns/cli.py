"""``flask newsletters …``: operator commands for newsletters, each printing one JSON object."""
import click
from flask.cli import with_appcontext

from smsplatform.campaigns import services
from smsplatform.cli_output import ROW_ID, emit, unit_of_work
from smsplatform.extensions import db
from smsplatform.schema_check import SchemaCheckedGroup


@click.group("newsletters", cls=SchemaCheckedGroup)
def newsletters_cli():
    """Start due newsletters, (re)run a fan-out, finish completed ones."""


@newsletters_cli.command("fan-out")
@click.argument("paket_id", type=ROW_ID)
@click.option("--batch-size", default=services.FANOUT_BATCH, show_default=True, type=click.IntRange(1))
@with_appcontext
def fan_out(paket_id, batch_size):
    """Write the messages of a running newsletter, committing each batch; safe to re-run after a crash."""
    with unit_of_work():
        total = services.fan_out(paket_id, batch_size=batch_size, commit=db.session.commit)
    emit({"paket_id": paket_id, "total_recipients": total})


@newsletters_cli.command("start-due")
@with_appcontext
def start_due():
    """Run the scheduler's job once: start the newsletters whose time has come."""
    started = services.start_due_newsletters()
    finished = services.finish_completed()
    db.session.commit()
    emit({"started": started, "finished": finished})
