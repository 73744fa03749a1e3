"""``flask accounts …``: operator commands, each printing one JSON object."""
import click
from flask.cli import with_appcontext

from smsplatform.accounts import services
from smsplatform.cli_output import emit, unit_of_work


@click.group("accounts")
def accounts_cli():
    """Create accounts and issue API tokens."""


@accounts_cli.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--timezone", default="UTC", show_default=True)
@with_appcontext
def create(email, password, timezone):
    """Create an account and its first API token."""
    with unit_of_work():
        account = services.create_account(email, password, timezone)
        token = services.issue_token(account, label="created by CLI")
    emit({"id": account.id, "email": account.email, "token": token})


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
