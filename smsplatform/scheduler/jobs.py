"""The periodic jobs, as data: (id, interval in seconds, dotted path of a service function).

A function may take ``config`` (it gets the app's config) and ``now``/other defaults; it flushes, the
wrapper commits. To add a job, add one line.
"""
from typing import NamedTuple


class Job(NamedTuple):
    id: str
    seconds: float
    target: str


JOBS = [
    Job("release-due-messages", 1, "smsplatform.messaging.queue.release_due_messages"),
    Job("redeliver-or-fail-unacknowledged", 30, "smsplatform.messaging.queue.redeliver_or_fail_unacknowledged"),
    Job("prune-auth-failures", 3600, "smsplatform.accounts.services.prune_auth_failures"),
    Job("delete-unreferenced-uploads", 3600, "smsplatform.storage.services.delete_unreferenced"),
    Job("start-due-newsletters", 5, "smsplatform.campaigns.services.start_due_newsletters"),
    Job("finish-completed-newsletters", 30, "smsplatform.campaigns.services.finish_completed"),
]
