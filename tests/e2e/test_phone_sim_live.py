"""The simulated phone's options against a real server: limits, delays, failures, incoming SMS, resuming."""
import json
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import database_is_mariadb
from tests.e2e.harness import ROOT, Platform, submit_batch


def _phone(platform, server, *args):
    result = subprocess.run([sys.executable, "-m", "smsplatform.phone_sim", "simulate", "--server", server,
                             "--name", "live", "--state", str(platform.workdir / "live.json"),
                             "--log", str(platform.workdir / "live.sent"), *args],
                            cwd=ROOT, env=platform.env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.skipif(database_is_mariadb(), reason="the phone's options do not depend on the database")
def test_phone_options_against_a_live_server(tmp_path):
    # Claimed but never sent (the phone stopped at its limit) is handed out again after a second.
    platform = Platform(tmp_path, f"sqlite:///{tmp_path / 'live.db'}", env={"UNACKED_REDELIVERY_SECONDS": "1"})
    try:
        platform.migrate()
        token = platform.cli_json("accounts", "create", "--email", "live@example.com",
                                  "--password", "correct horse battery")["token"]
        server = platform.start_web(workers=1)
        code = platform.pairing_codes("live@example.com", 1)[0]
        # A bare address: the phone adds /api/mobile/v1 itself. Pair, inject incoming SMS, stop at once.
        lines = _phone(platform, server, "--code", code, "--sims", "1", "--count-incoming", "2", "--exit-after", "0")
        assert lines[0]["event"] == "paired" and lines[0]["resumed"] is False
        assert lines[1] == {"event": "incoming", "stored": 2}
        device_id = int(lines[0]["device_id"])
        submit_batch(server, token, [{"sendto": f"+4915752982{i:03d}", "body": f"m{i}", "sim": 0,
                                      "device_id": device_id} for i in range(5)])
        # Resume without a code; every message fails; stop after three.
        lines = _phone(platform, server, "--fail-rate", "1", "--max-messages", "3", "--exit-after", "60")
        assert lines[0]["resumed"] is True and lines[-1]["sent"] == 3
        # The rest (handed out again), delivered after a delay, until the time is up.
        lines = _phone(platform, server, "--delivery-delay", "0.5", "--poll-seconds", "0.5", "--exit-after", "5")
        assert lines[-1]["sent"] == 5
        # Unpaired while it runs: it stops with the reason instead of retrying for ever.
        running = subprocess.Popen([sys.executable, "-m", "smsplatform.phone_sim", "simulate", "--server", server,
                                    "--state", str(platform.workdir / "live.json"), "--log",
                                    str(platform.workdir / "live.sent"), "--poll-seconds", "0.5", "--exit-after", "60"],
                                   cwd=ROOT, env=platform.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert json.loads(running.stdout.readline())["event"] == "paired"
            platform.cli_json("devices", "revoke", "--email", "live@example.com", "--device-id", str(device_id))
            _, errors = running.communicate(timeout=30)
        finally:
            if running.poll() is None:
                running.kill()
                running.wait()
        assert running.returncode == 1
        assert "no longer accepts this phone" in errors and "pair it again with --code" in errors
    finally:
        platform.stop()
    engine = create_engine(platform.database_url)
    with engine.connect() as connection:
        statuses = connection.execute(text("SELECT status, COUNT(*) FROM messages GROUP BY status")).all()
    engine.dispose()
    assert dict(statuses)[5] == 2  # the incoming SMS
    assert dict(statuses)[7] == 2  # delivered after the delay
    assert sum(n for status, n in statuses if 8 <= status <= 12) == 3  # the forced failures
