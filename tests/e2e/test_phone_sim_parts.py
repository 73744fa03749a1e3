"""The simulated phone's own pieces: the SSE reader (as OkHttp reads), its memory across kills, outcomes."""
import gc
import io

import pytest

from smsplatform.phone_sim.protocol import ProtocolError, phone_time, read_events
from smsplatform.phone_sim.simulator import SentLog, SimulatedPhone


class _Chunks:
    def __init__(self, *chunks):
        self.chunks = chunks

    def iter_content(self, chunk_size=None):
        yield from self.chunks


def test_sse_reader_follows_the_apps_rules():
    stream = _Chunks(
        b":keepalive\n\n",
        b"event: Messa", b"geEnqueued\ndata: null\n", b"\n",  # split anywhere
        b"event: SettingsUpdated\r\ndata: {}\r\n\r\n",  # CRLF
        b"event: WebhooksUpdated\n\n",  # no data line: OkHttp drops it
        b"data: null\n\n",  # no event line: treated as MessageEnqueued
        b"id: 7\nretry: 10\nevent: Custom\ndata: 1\n\n",
    )
    assert list(read_events(stream)) == ["MessageEnqueued", "SettingsUpdated", "MessageEnqueued", "Custom"]


def test_sent_log_survives_a_kill_mid_line(tmp_path):
    path = tmp_path / "phone.sent"
    with SentLog(path) as log:
        log.sent("1", "delivered", ["+4915752982212"])
        log.sent("2", "no_service", ["+4915752982213"])
        log.finished("1")
    with path.open("a") as handle:
        handle.write("sent 3 deliv")  # the process died while writing
    again = SentLog(path)
    assert again.outcomes == {"1": "delivered", "2": "no_service"}
    assert again.numbers["2"] == ["+4915752982213"]
    assert again.unfinished() == ["2"]


def test_outcomes_are_stable_per_message_and_follow_the_fail_rate(tmp_path):
    def phone(rate, seed="x"):
        return SimulatedPhone("http://127.0.0.1:1", code=None, fail_rate=rate, state_path=tmp_path / "s.json",
                              log_path=tmp_path / f"{rate}.sent", seed=seed)

    never, always, some = phone(0.0), phone(1.0), phone(0.3)
    ids = [str(i) for i in range(2000)]
    assert {never.outcome_for(i) for i in ids} == {"delivered"}
    assert "delivered" not in {always.outcome_for(i) for i in ids}
    failed = sum(some.outcome_for(i) != "delivered" for i in ids)
    assert 450 < failed < 750
    outcomes = [some.outcome_for(i) for i in ids]
    assert [phone(0.3).outcome_for(i) for i in ids] == outcomes  # a new simulator with the seed decides the same
    assert [phone(0.3, seed="y").outcome_for(i) for i in ids] != outcomes  # another seed decides otherwise


def test_bare_server_address_gets_the_api_path(tmp_path):
    phone = SimulatedPhone("http://127.0.0.1:8000", code=None, state_path=tmp_path / "s.json",
                           log_path=tmp_path / "p.sent")
    assert phone.client.base_url == "http://127.0.0.1:8000/api/mobile/v1"
    custom = SimulatedPhone("https://gw.example.com/sms/mobile/v1/", code=None, state_path=tmp_path / "s.json",
                            log_path=tmp_path / "q.sent")
    assert custom.client.base_url == "https://gw.example.com/sms/mobile/v1"


def test_phone_dates_look_like_the_apps():
    stamp = phone_time()
    assert stamp.endswith("+07:00") and len(stamp.split(".")[1]) == len("123+07:00")


def _open_files_on(path) -> list:
    """This process's file objects still open on ``path``, referenced or waiting for the collector."""
    return [obj for obj in gc.get_objects()
            if isinstance(obj, io.IOBase) and str(getattr(obj, "name", "")) == str(path) and not obj.closed]


def test_a_phone_that_never_runs_holds_no_file(tmp_path):
    phone = SimulatedPhone("http://127.0.0.1:1", code=None, state_path=tmp_path / "s.json",
                           log_path=tmp_path / "p.sent")
    assert phone.outcome_for("1") == "delivered"
    assert _open_files_on(tmp_path / "p.sent") == []


@pytest.mark.parametrize("way_out", [None, ProtocolError("refused", 401), KeyboardInterrupt()],
                         ids=["end", "error", "ctrl-c"])
def test_a_run_closes_its_sent_log_however_it_ends_and_keeps_every_line(tmp_path, way_out):
    path = tmp_path / "p.sent"
    phone = SimulatedPhone("http://127.0.0.1:1", code=None, state_path=tmp_path / "s.json", log_path=path,
                           exit_after=0, reconnect_seconds=0.01)

    def connect():
        phone.log.sent("7", "delivered", ["+4915752982212"])
        if way_out is not None:
            raise way_out
        return {"device_id": "1", "resumed": True}

    phone.connect = connect
    if way_out is None:
        assert phone.run(announce=lambda line: None)["sent"] == 1
    else:
        with pytest.raises(type(way_out)):
            phone.run(announce=lambda line: None)
    assert _open_files_on(path) == []
    assert path.read_text() == "sent 7 delivered +4915752982212\n"
    assert SentLog(path).unfinished() == ["7"]
