"""A newsletter's stored state, read back from the database, for "nothing changed" assertions."""
from datetime import datetime
from typing import NamedTuple

from smsplatform.extensions import db
from smsplatform.models import Paket


class NewsletterState(NamedTuple):
    title: str
    body: str
    device_id: int
    sim: int
    status: str
    time_to_send: datetime | None
    media_object_id: int | None
    media_url: str | None
    tag_ids: list[int]


def newsletter_state(paket_id) -> NewsletterState:
    """What is stored of newsletter ``paket_id`` (the session's cached objects expired first, so it is
    read again), its tag ids sorted: equal before and after a refused change when nothing was saved."""
    db.session.expire_all()
    paket = db.session.get(Paket, paket_id)
    return NewsletterState(paket.title, paket.body, paket.device_id, paket.sim, paket.status, paket.time_to_send,
                           paket.media_object_id, paket.media_url, sorted(t.id for t in paket.tags))
