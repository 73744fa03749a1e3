"""``flask phone simulate``: run a simulated phone against a server, like the Android app would."""
import logging
from pathlib import Path

import click
import requests

from smsplatform.phone_sim.protocol import ProtocolError
from smsplatform.phone_sim.simulator import SimulatedPhone


@click.group("phone")
def phone_cli():
    """A simulated phone (for demos and tests; no real SMS is sent)."""


@phone_cli.command("simulate")
@click.option("--server", required=True, help="The API URL as typed into the app, e.g. http://127.0.0.1:8000/api/mobile/v1 "
                   "(a bare address gets /api/mobile/v1 appended).")
@click.option("--code", default=None, help="A pairing code (flask devices pairing-code); not needed to resume.")
@click.option("--name", default="Simulated/phone", show_default=True)
@click.option("--sims", type=click.IntRange(1, 2), default=2, show_default=True)
@click.option("--whatsapp", is_flag=True, help="Declare WhatsApp slots 2 and 3 (the real app cannot).")
@click.option("--fail-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option("--delivery-delay", type=click.FloatRange(0), default=0.0, show_default=True,
              help="Seconds between Sent and the delivery report.")
@click.option("--count-incoming", type=click.IntRange(0), default=0, help="Incoming SMS to inject via the webhook.")
@click.option("--state", "state_path", type=click.Path(dir_okay=False), default=None,
              help="Where the device token is kept (default: instance/phones/<name>.json).")
@click.option("--log", "log_path", type=click.Path(dir_okay=False), default=None,
              help="Where every sent message id is recorded (default: beside the state file).")
@click.option("--max-messages", type=click.IntRange(1), default=None, help="Exit after sending this many.")
@click.option("--exit-after", type=click.FloatRange(0), default=None, help="Exit after this many seconds.")
@click.option("--poll-seconds", type=click.FloatRange(0.1), default=30.0, show_default=True,
              help="Pull this often even without events (the app: 15 minutes).")
@click.option("--workers", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Messages sent and reported at once.")
@click.option("--verbose", is_flag=True)
def simulate(server, code, name, sims, whatsapp, fail_rate, delivery_delay, count_incoming, state_path, log_path,
             max_messages, exit_after, poll_seconds, workers, verbose):
    """Pair (or resume), hold the event stream, send what the server hands out, report every state."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s phone %(levelname)s %(message)s")
    safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    state = Path(state_path) if state_path else Path("instance") / "phones" / f"{safe_name}.json"
    sent_log = Path(log_path) if log_path else state.with_suffix(".log")
    phone = SimulatedPhone(
        server, code=code, name=name, sims=sims, whatsapp=whatsapp, fail_rate=fail_rate,
        delivery_delay=delivery_delay, count_incoming=count_incoming, state_path=state, log_path=sent_log,
        max_messages=max_messages, exit_after=exit_after, poll_seconds=poll_seconds, seed=name, workers=workers,
    )
    try:
        phone.run(announce=click.echo)
    except (ProtocolError, requests.RequestException) as error:
        raise click.ClickException(str(error)) from error
    except KeyboardInterrupt:
        pass  # Ctrl-C is the usual way to stop a phone; run() has already wound down and closed its log
