"""``python -m smsplatform.phone_sim simulate …``: the same command without loading the platform itself."""
from smsplatform.phone_sim.cli import phone_cli

phone_cli(prog_name="python -m smsplatform.phone_sim")
