"""Output of the operator commands: one JSON object per command; on a domain error, undo and exit 1."""
import json
from contextlib import contextmanager
from typing import Iterator, NoReturn

import click

from smsplatform.errors import DomainError
from smsplatform.extensions import db
from smsplatform.models.types import MAX_ROW_ID

# A row id an operator types: a whole number a BIGINT holds (a longer one is a usage error, not a database fault).
ROW_ID = click.IntRange(1, MAX_ROW_ID)


def emit(payload: dict) -> None:
    click.echo(json.dumps(payload))


def fail(error: DomainError) -> NoReturn:
    """Roll back the command's unit of work, print the error as JSON and exit with status 1."""
    db.session.rollback()
    emit({"error": error.message})
    raise SystemExit(1)


@contextmanager
def unit_of_work() -> Iterator[None]:
    """A command's one commit: the block's work is committed, or on a domain error rolled back,
    printed as ``{"error": …}`` and the command exits with status 1 (``fail``)."""
    try:
        yield
        db.session.commit()
    except DomainError as error:
        fail(error)
