"""``flask scheduler run``: the scheduler process."""
import logging

import click
from flask import current_app
from flask.cli import with_appcontext

from smsplatform.scheduler.runner import run_forever
from smsplatform.schema_check import SchemaCheckedGroup


@click.group("scheduler", cls=SchemaCheckedGroup)
def scheduler_cli():
    """The periodic jobs (run in their own process, never in web workers)."""


@scheduler_cli.command("run")
@with_appcontext
def run():
    """Run the periodic jobs until stopped (SIGTERM or Ctrl-C)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s scheduler %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    run_forever(current_app._get_current_object())
