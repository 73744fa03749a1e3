"""Output of the operator commands: one JSON object per command; on a domain error, undo and exit 1."""
import json
from typing import NoReturn

import click

from smsplatform.errors import DomainError
from smsplatform.extensions import db


def emit(payload: dict) -> None:
    click.echo(json.dumps(payload))


def fail(error: DomainError) -> NoReturn:
    """Roll back the command's unit of work, print the error as JSON and exit with status 1."""
    db.session.rollback()
    emit({"error": error.message})
    raise SystemExit(1)
