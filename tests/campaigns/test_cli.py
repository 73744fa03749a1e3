"""``flask newsletters …``: one JSON object per command, exit status 1 with a message on refusal."""
import json

from smsplatform.campaigns import services
from smsplatform.extensions import db
from tests.campaigns.conftest import bulk_contacts, make_tag


def test_start_due_and_fan_out_commands(app, owner, device):
    tag = make_tag(owner, "VIP")
    bulk_contacts(owner, {"+491111": [tag.id], "+492222": [tag.id]})
    paket = services.create_paket(owner, title="t", body="Hi {name|you}", device_id=device.id, sim=0,
                                  tag_ids=str(tag.id), time_to_send="0")
    draft = services.create_paket(owner, title="d", body="Hi", device_id=device.id, sim=0, tag_ids=str(tag.id),
                                  time_to_send=None, schedule=False)
    db.session.commit()
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["newsletters", "fan-out", str(draft.id)])
    assert refused.exit_code == 1 and "is draft" in json.loads(refused.output)["error"]
    started = runner.invoke(args=["newsletters", "start-due"])
    assert started.exit_code == 0 and json.loads(started.output) == {"started": 1, "finished": 0}
    again = runner.invoke(args=["newsletters", "fan-out", str(paket.id), "--batch-size", "1"])
    assert json.loads(again.output) == {"paket_id": paket.id, "total_recipients": 2}


def test_a_newsletter_id_no_row_can_have_is_a_usage_error_not_a_traceback(app):
    for paket_id in ("9223372036854775808", "99999999999999999999"):  # past a BIGINT
        result = app.test_cli_runner().invoke(args=["newsletters", "fan-out", "--", paket_id])
        assert result.exit_code == 2, result.output
        assert "Invalid value for 'PAKET_ID'" in result.output and result.exception.__class__ is SystemExit
