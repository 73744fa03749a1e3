"""``flask devices …``: pairing and device administration, each command printing one JSON object."""
import click
from flask import current_app
from flask.cli import with_appcontext

from smsplatform.accounts.services import get_account_by_email
from smsplatform.cli_output import ROW_ID, emit, unit_of_work
from smsplatform.devices import pairing, services
from smsplatform.devices.queries import is_online, list_devices
from smsplatform.schema_check import SchemaCheckedGroup
from smsplatform.timeutil import iso_millis


@click.group("devices", cls=SchemaCheckedGroup)
def devices_cli():
    """Pair phones with accounts, list and revoke them."""


@devices_cli.command("pairing-code")
@click.option("--email", required=True)
@with_appcontext
def pairing_code(email):
    """A one-time code to type into the app ("Sign in" → "By code")."""
    with unit_of_work():
        account = get_account_by_email(email)
        code, row = pairing.create_pairing_code(account, current_app.config["PAIRING_CODE_TTL_SECONDS"])
    emit({"code": code, "expires_at": iso_millis(row.expires_at)})


@devices_cli.command("enrolment-token")
@click.option("--email", required=True)
@with_appcontext
def enrolment_token(email):
    """Rotate the account's enrolment token (the app's "Private Token"); the old one stops working."""
    with unit_of_work():
        account = get_account_by_email(email)
        token = pairing.rotate_enrolment_token(account)
    emit({"email": account.email, "enrolment_token": token})


@devices_cli.command("list")
@click.option("--email", required=True)
@with_appcontext
def list_command(email):
    """The account's paired devices."""
    with unit_of_work():  # read-only: shaped before the (empty) commit expires what was read
        account = get_account_by_email(email)
        listing = {"email": account.email, "devices": [
            {"id": d.id, "name": d.name, "app_version": d.app_version, "last_seen_at": iso_millis(d.last_seen_at),
             "online": is_online(d, current_app.config), "sim_cards": d.sim_cards or [],
             "extra_slots": sorted(d.slot_list())}
            for d in list_devices(account)
        ]}
    emit(listing)


@devices_cli.command("revoke")
@click.option("--email", required=True)
@click.option("--device-id", required=True, type=ROW_ID)
@with_appcontext
def revoke(email, device_id):
    """Unpair a device: its token stops working at once; its waiting messages are cancelled."""
    with unit_of_work():
        device = services.revoke_device(get_account_by_email(email), device_id)
    emit({"id": device.id, "revoked_at": iso_millis(device.revoked_at)})
