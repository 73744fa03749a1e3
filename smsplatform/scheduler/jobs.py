"""The periodic jobs, as data: (id, interval in seconds, dotted path of a service function).

A function may take ``config`` (it gets the app's config) and ``now``/other defaults; it flushes, the
wrapper commits. Each job does one thing, so one that fails is rolled back and logged alone while
the others go on. To add a job, add one line.
"""
from typing import NamedTuple


class Job(NamedTuple):
    id: str
    seconds: float
    target: str
    run_at_start: bool = False  # also once when the scheduler starts, not only after the first interval


JOBS = [
    # Scheduled messages reach the phones within a second of their time.
    Job("release-due-messages", 1, "smsplatform.messaging.queue.release_due_messages"),
    # Handed-out work the phone did not acknowledge: woken for redelivery, failed after UNACKED_FAIL_SECONDS.
    Job("redeliver-or-fail-unacknowledged", 30, "smsplatform.messaging.queue.redeliver_or_fail_unacknowledged"),
    # Messages left on a phone silent for SILENT_PHONE_FAIL_SECONDS: failed, so their newsletter can finish.
    Job("fail-left-on-silent-phones", 300, "smsplatform.messaging.queue.fail_left_on_silent_phones"),
    # Waiting messages a removed phone's own cancelling missed (accepted or fanned out while it was removed).
    Job("cancel-left-on-removed-devices", 300, "smsplatform.devices.services.cancel_left_on_removed_devices"),
    # A phone silent for DEVICE_ONLINE_WINDOW_SECONDS (120 s by default) is marked offline within 30 s more.
    Job("mark-silent-devices-offline", 30, "smsplatform.devices.services.mark_silent_devices_offline"),
    # Tidiness only: expired codes are refused anyway, receipts are kept a day.
    Job("prune-expired-pairing-codes", 3600, "smsplatform.devices.services.prune_expired_pairing_codes"),
    Job("prune-webhook-receipts", 3600, "smsplatform.devices.services.prune_webhook_receipts"),
    Job("prune-auth-failures", 3600, "smsplatform.accounts.services.prune_auth_failures"),
    Job("prune-dashboard-sessions", 3600, "smsplatform.accounts.services.prune_dashboard_sessions"),
    Job("delete-unreferenced-uploads", 3600, "smsplatform.storage.services.delete_unreferenced"),
    Job("start-due-newsletters", 5, "smsplatform.campaigns.services.start_due_newsletters"),
    Job("finish-completed-newsletters", 30, "smsplatform.campaigns.services.finish_completed"),
    # SQLite's planner statistics (a no-op on MariaDB): listings keep their indexes as tables grow.
    Job("refresh-planner-statistics", 6 * 3600, "smsplatform.db_statistics.refresh_planner_statistics",
        run_at_start=True),
]
