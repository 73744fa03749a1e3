"""The simulated phone: pairs, holds an event stream, pulls, "sends" and reports like the Android app.

Its memory survives restarts the way the app's local database does: the state file keeps the device
token, and the log file keeps every message id it sent and whether its final report got through.
A message returned again is never sent again; its final state is re-reported instead.
"""
import json
import logging
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import requests

from smsplatform.phone_sim.protocol import MobileClient, ProtocolError, phone_time, read_events

log = logging.getLogger("phone")

# Outcomes with the exact error texts the app reports (contract §5.4). "delivery_failed" fails after Sent.
ERRORS = {
    "failed": "Send result: RESULT_ERROR_GENERIC_FAILURE (Generic failure cause)",
    "no_service": "Send result: RESULT_ERROR_NO_SERVICE (Failed because service is currently unavailable)",
    "radio_off": "Send result: RESULT_ERROR_RADIO_OFF (Failed because radio was explicitly turned off)",
    "null_pdu": "Send result: RESULT_ERROR_NULL_PDU (Failed because no PDU provided)",
    "delivery_failed": "Delivery result: 1",
}
FAILURES = tuple(ERRORS)
NOT_SENT = ("failed", "no_service", "radio_off", "null_pdu", "sim_missing")  # failed before "Sent"
REPORT_ATTEMPTS = 10
DEFAULT_API_PATH = "/api/mobile/v1"


class SentLog:
    """Append-only record: ``sent <id> <outcome> <numbers>`` before a message is sent, ``done <id>`` after
    its final report got through. A line cut short by a kill is ignored (that message was not sent).

    Reading needs nothing open; writing happens inside ``with log:``, which holds the file open
    (line-buffered, so every record is on disk once written) and closes it however the block ends."""

    def __init__(self, path: Path):
        self.path = path
        self.outcomes: dict[str, str] = {}
        self.numbers: dict[str, list[str]] = {}
        self.done: set[str] = set()
        self._lock = threading.Lock()
        self._file = None
        if path.exists():
            for line in path.read_text().split("\n")[:-1]:
                parts = line.split()
                if len(parts) == 4 and parts[0] == "sent":
                    self.outcomes[parts[1]] = parts[2]
                    self.numbers[parts[1]] = parts[3].split(",")
                elif len(parts) == 2 and parts[0] == "done":
                    self.done.add(parts[1])

    def __enter__(self) -> "SentLog":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", buffering=1)
        return self

    def __exit__(self, *exc_info) -> None:
        with self._lock:
            self._file.close()
            self._file = None

    def _append(self, line: str) -> None:
        if self._file is None:
            raise RuntimeError(f"{self.path} is written only inside 'with log:'")
        self._file.write(line + "\n")

    def sent(self, message_id: str, outcome: str, numbers: list[str]) -> None:
        with self._lock:
            self.outcomes[message_id] = outcome
            self.numbers[message_id] = numbers
            self._append(f"sent {message_id} {outcome} {','.join(numbers)}")

    def unfinished(self) -> list[str]:
        with self._lock:
            return [m for m in self.outcomes if m not in self.done]

    def finished(self, message_id: str) -> None:
        with self._lock:
            self.done.add(message_id)
            self._append(f"done {message_id}")


class SimulatedPhone:
    def __init__(self, server: str, *, code: str | None, name: str = "Simulated/phone", sims: int = 2,
                 whatsapp: bool = False, fail_rate: float = 0.0, delivery_delay: float = 0.0,
                 count_incoming: int = 0, state_path: Path, log_path: Path, max_messages: int | None = None,
                 exit_after: float | None = None, poll_seconds: float = 30.0, reconnect_seconds: float = 1.0,
                 seed: str = "", workers: int = 4):
        server = server.rstrip("/")
        if urlsplit(server).path in ("", "/"):  # a bare address: the platform serves the API here
            server += DEFAULT_API_PATH
        self.client = MobileClient(server)
        self.code = code
        self.name = name
        self.sims = sims
        self.slots = [2, 3] if whatsapp else None
        self.fail_rate = fail_rate
        self.delivery_delay = delivery_delay
        self.count_incoming = count_incoming
        self.state_path = Path(state_path)
        self.log = SentLog(Path(log_path))
        self.max_messages = max_messages
        self.exit_after = exit_after
        self.poll_seconds = poll_seconds
        self.reconnect_seconds = reconnect_seconds
        self.seed = seed
        self.device_id: str | None = None
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.awaiting_delivery: set[str] = set()  # sent, delivery report still to come
        self._delayed: list[tuple[float, str, dict]] = []
        self._delayed_lock = threading.Condition()
        self.events_seen = 0
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sender")
        self._delivery_thread: threading.Thread | None = None

    # -- pairing ---------------------------------------------------------------------------------
    def sim_cards(self) -> list:
        return [{"slotIndex": i, "simNumber": i + 1, "carrierName": "****Sim"} for i in range(self.sims)]

    def connect(self) -> dict:
        """Resume the stored registration (PATCH /device), or pair with the code (POST /device)."""
        if self.state_path.exists():
            state = json.loads(self.state_path.read_text())
            self.client.token, self.device_id = state["token"], state["device_id"]
            try:
                self.client.update_device(self.device_id, self.sim_cards(), self.slots)
                return {"device_id": self.device_id, "resumed": True}
            except ProtocolError as error:
                if error.status != 401 or not self.code:
                    raise
                log.warning("stored token refused (401): pairing again")
        if not self.code:
            raise ProtocolError("no stored registration and no --code to pair with")
        registration = self.client.register_with_code(self.code, self.name, self.sim_cards(), self.slots)
        self.device_id = str(registration["id"])
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        self.state_path.write_text(json.dumps({"device_id": self.device_id, "token": registration["token"],
                                               "login": registration.get("login")}))
        return {"device_id": self.device_id, "resumed": False}

    # -- the event stream ------------------------------------------------------------------------
    def _events_loop(self) -> None:
        while not self.stop.is_set():
            try:
                with self.client.open_events(read_timeout=max(60.0, self.poll_seconds * 2)) as response:
                    self.wake.set()  # the app pulls on every successful open
                    for event in read_events(response):
                        self.events_seen += 1
                        if event == "MessageEnqueued":
                            self.wake.set()
                        if self.stop.is_set():
                            return
            except (requests.RequestException, ProtocolError) as error:
                log.info("event stream: %s; reconnecting", error)
            self.stop.wait(self.reconnect_seconds)

    # -- sending ---------------------------------------------------------------------------------
    def outcome_for(self, message_id: str) -> str:
        rng = random.Random(f"{self.seed}:{message_id}")
        if rng.random() >= self.fail_rate:
            return "delivered"
        return rng.choice(FAILURES)

    @staticmethod
    def _states_for(outcome: str, final: str, stamp: str) -> dict:
        """The ``states`` map of a finished message: ``Sent`` only if it got that far."""
        names = ["Pending", "Processed"] + ([] if outcome in NOT_SENT else ["Sent"]) + [final]
        return {name: stamp for name in names}

    def _final_report(self, message: dict, outcome: str) -> tuple[str, list]:
        numbers = message["phoneNumbers"]
        if outcome == "delivered":
            return "Delivered", [{"phoneNumber": p, "state": "Delivered"} for p in numbers]
        return "Failed", [{"phoneNumber": p, "state": "Failed", "error": ERRORS[outcome]} for p in numbers]

    def _report(self, message_id: str, state: str, recipients: list, states: dict) -> bool:
        for attempt in range(REPORT_ATTEMPTS):
            try:
                self.client.report(message_id, state, recipients, states)
                return True
            except (requests.RequestException, ProtocolError) as error:
                log.warning("report %s %s failed (%s), attempt %d", message_id, state, error, attempt + 1)
                if self.stop.wait(min(5.0, 0.2 * 2 ** attempt)):
                    return False
        return False

    def send(self, message: dict) -> None:
        """Local enqueue + send: record it first (the app's database), then report each state change."""
        message_id = str(message["id"])
        sim_number = message.get("simNumber")
        outcome = self.outcome_for(message_id)
        if sim_number is not None and sim_number > self.sims and not self.slots:
            outcome = "sim_missing"
        self.log.sent(message_id, outcome, [str(p) for p in message["phoneNumbers"]])
        states = {"Pending": phone_time(), "Processed": phone_time()}
        numbers = message["phoneNumbers"]
        self._report(message_id, "Processed", [{"phoneNumber": p, "state": "Processed"} for p in numbers], states)
        if outcome in NOT_SENT:
            error = ERRORS.get(outcome, f"Can't send message: SIM {sim_number} not found")
            states["Failed"] = phone_time()
            if self._report(message_id, "Failed",
                            [{"phoneNumber": p, "state": "Failed", "error": error} for p in numbers], states):
                self.log.finished(message_id)
            return
        states["Sent"] = phone_time()
        self._report(message_id, "Sent", [{"phoneNumber": p, "state": "Sent"} for p in numbers], states)
        if self.delivery_delay > 0:
            self.awaiting_delivery.add(message_id)
            with self._delayed_lock:
                self._delayed.append((time.monotonic() + self.delivery_delay, outcome, {**message, "_states": states}))
                self._delayed_lock.notify()
        else:
            self._deliver(message, outcome, states)

    def _deliver(self, message: dict, outcome: str, states: dict) -> None:
        state, recipients = self._final_report(message, outcome)
        states = {**states, state: phone_time()}
        if self._report(str(message["id"]), state, recipients, states):
            self.log.finished(str(message["id"]))
        self.awaiting_delivery.discard(str(message["id"]))

    def _delivery_loop(self) -> None:
        while not self.stop.is_set():
            with self._delayed_lock:
                now = time.monotonic()
                due = [item for item in self._delayed if item[0] <= now]
                self._delayed = [item for item in self._delayed if item[0] > now]
                if not due:
                    wait = min((item[0] for item in self._delayed), default=now + 1) - now
                    self._delayed_lock.wait(max(0.01, wait))
                    continue
            for _, outcome, message in due:
                states = message.pop("_states")
                self._deliver(message, outcome, states)

    def re_report(self, message_id: str) -> None:
        """A message this phone already sent came back (or its report was cut off by a restart):
        report its final state again, never send it again."""
        message = {"id": message_id, "phoneNumbers": self.log.numbers[message_id]}
        outcome = self.log.outcomes[message_id]
        if outcome == "sim_missing":
            state = "Failed"
            recipients = [{"phoneNumber": p, "state": "Failed", "error": "Can't send message: SIM not found"}
                          for p in message["phoneNumbers"]]
        else:
            state, recipients = self._final_report(message, outcome)
        if self._report(message_id, state, recipients, self._states_for(outcome, state, phone_time())):
            self.log.finished(message_id)

    def pull_once(self) -> int:
        """One ``GET /message``: new messages are sent (several at once), returning ones re-reported."""
        messages = self.client.get_messages(order="fifo")
        fresh, returning = [], []
        for message in messages:
            message_id = str(message["id"])
            if message_id in self.log.outcomes:
                if message_id not in self.awaiting_delivery:
                    returning.append(message_id)
            elif message_id not in {str(m["id"]) for m in fresh}:
                if self.max_messages is not None and len(self.log.outcomes) + len(fresh) >= self.max_messages:
                    break
                fresh.append(message)
        list(self.pool.map(self.re_report, returning))
        list(self.pool.map(self.send, fresh))
        return len(fresh)

    def limit_reached(self) -> bool:
        return self.max_messages is not None and len(self.log.outcomes) >= self.max_messages

    # -- incoming SMS through the signed webhook -------------------------------------------------
    def inject_incoming(self, count: int) -> int:
        hooks = {hook["event"]: hook for hook in self.client.get_webhooks()}
        key = self.client.get_settings().get("webhooks", {}).get("signing_key")
        hook = hooks.get("sms:received")
        if hook is None or not key:
            raise ProtocolError("the server offers no sms:received webhook or signing key")
        stored = 0
        for i in range(count):
            body = {
                "id": uuid.uuid4().hex, "webhookId": hook["id"], "event": "sms:received",
                "deviceId": self.device_id,
                "payload": {"messageId": uuid.uuid4().hex[:16], "message": f"Incoming test message {i + 1}",
                            "phoneNumber": f"+1555{random.randint(1000000, 9999999)}", "simNumber": 1,
                            "receivedAt": phone_time()},
            }
            status = self.client.post_webhook(hook["url"], key, body)
            stored += 200 <= status < 300
        return stored

    # -- main loop -------------------------------------------------------------------------------
    def run(self, announce=print) -> dict:
        """Work until stopped, a limit or ``exit_after``. The sent log is open only while this runs,
        and every way out (the end, an error, Ctrl-C) lets in-flight sends record first, then closes it."""
        with self.log:
            try:
                return self._work(announce)
            finally:
                self._wind_down()

    def _work(self, announce) -> dict:
        started = time.monotonic()
        unfinished = self.log.unfinished()  # sent before a crash, final report not confirmed
        announce(json.dumps({"event": "paired", **self.connect(), "reporting_again": len(unfinished)}))
        for message_id in unfinished:
            self.re_report(message_id)
        if self.count_incoming:
            announce(json.dumps({"event": "incoming", "stored": self.inject_incoming(self.count_incoming)}))
        threading.Thread(target=self._events_loop, daemon=True).start()
        self._delivery_thread = threading.Thread(target=self._delivery_loop, daemon=True)
        self._delivery_thread.start()
        self.wake.set()
        deadline = None if self.exit_after is None else started + self.exit_after
        while not self.stop.is_set() and not self.limit_reached():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            self.wake.wait(self.poll_seconds if left is None else min(self.poll_seconds, left))
            if deadline is not None and time.monotonic() >= deadline:
                break
            self.wake.clear()
            try:
                # New work may mean more is waiting: pull again at once until a pull brings nothing new.
                while self.pull_once() and not self.stop.is_set() and not self.limit_reached():
                    pass
            except (requests.RequestException, ProtocolError) as error:
                if isinstance(error, ProtocolError) and error.status == 401:
                    # Unpaired (revoked, or its account deleted): no retry can succeed, the app asks to pair again.
                    raise ProtocolError(f"the server no longer accepts this phone ({error}); pair it again with "
                                        "--code", 401) from error
                log.warning("pull failed: %s", error)
                self.stop.wait(self.reconnect_seconds)
                self.wake.set()
        self.finish_delayed()
        summary = {"event": "stopped", "device_id": self.device_id, "sent": len(self.log.outcomes),
                   "events": self.events_seen}
        announce(json.dumps(summary))
        return summary

    def _wind_down(self) -> None:
        """Stop, and wait for the threads that write to the sent log (the event stream's does not)."""
        self.stop.set()
        if self._delivery_thread is not None:
            with self._delayed_lock:
                self._delayed_lock.notify()
            self._delivery_thread.join()
        self.pool.shutdown(wait=True, cancel_futures=True)

    def finish_delayed(self) -> None:
        """On a clean exit, deliver what is still waiting for its delivery report."""
        with self._delayed_lock:
            pending, self._delayed = self._delayed, []
        for _, outcome, message in pending:
            self._deliver(message, outcome, message.pop("_states"))
