"""``flask accounts …``: operator commands, each printing one JSON object."""
import sys

import click
from flask.cli import with_appcontext

from smsplatform.accounts import services
from smsplatform.cli_output import emit, unit_of_work
from smsplatform.schema_check import SchemaCheckedGroup

PASSWORD_VARIABLE = "SMSPLATFORM_PASSWORD"


@click.group("accounts", cls=SchemaCheckedGroup)
def accounts_cli():
    """Create accounts and issue API tokens."""


@accounts_cli.command("create")
@click.option("--email", required=True)
@click.option("--password", envvar=PASSWORD_VARIABLE, show_envvar=True,
              help="The password. Given here it shows in ps and the shell's history: in a terminal leave it out "
                   "to be asked for it; in a script use --password-stdin or the environment variable.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.option("--timezone", default="UTC", show_default=True)
@with_appcontext
def create(email, password, password_stdin, timezone):
    """Create an account and its first API token."""
    password = _password(password, password_stdin)
    with unit_of_work():
        account = services.create_account(email, password, timezone)
        token = services.issue_token(account, label="created by CLI")
    emit({"id": account.id, "email": account.email, "token": token})


def _password(given: str | None, from_stdin: bool) -> str:
    if from_stdin:
        if given is not None:
            raise click.UsageError(f"give the password one way: --password, ${PASSWORD_VARIABLE} or --password-stdin")
        return sys.stdin.readline().rstrip("\r\n")
    if given is not None:
        return given
    if not sys.stdin.isatty():
        raise click.UsageError(f"no password: use --password-stdin or ${PASSWORD_VARIABLE}, or run this in a terminal "
                               "to be asked for it")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@accounts_cli.command("token")
@click.option("--email", required=True)
@click.option("--label", default="issued by CLI")
@with_appcontext
def token(email, label):
    """Issue a new API token for an account."""
    with unit_of_work():
        account = services.get_account_by_email(email)
        value = services.issue_token(account, label=label)
    emit({"id": account.id, "email": account.email, "token": value})


@accounts_cli.command("delete")
@click.option("--email", required=True)
@click.confirmation_option(prompt="Delete this account and all its data (messages, devices, contacts, images)?")
@with_appcontext
def delete(email):
    """Delete an account with all its data, including its stored images."""
    with unit_of_work():
        account = services.get_account_by_email(email)
        account_id, account_email = account.id, account.email
        objects = services.delete_account(account)
    emit({"id": account_id, "email": account_email, "deleted": True, "objects": objects})
