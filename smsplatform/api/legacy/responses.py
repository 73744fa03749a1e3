"""Legacy answers: the ``{"error":…,"message":…}`` envelope and PHP's date shapes."""
import json
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from flask import Response

from smsplatform.timeutil import as_utc


def answer(payload: dict, status: int = 200) -> Response:
    """JSON as PHP's ``json_encode`` writes it (compact, ASCII-escaped), in the given key order."""
    return Response(json.dumps(payload, separators=(",", ":")), status=status, mimetype="application/json")


def ok(message: str = "OK", **fields) -> Response:
    return answer({"error": 0, "message": message, **fields})


def fail(message: str, status: int = 200) -> Response:
    """A refused call: HTTP 200 by default, because legacy clients read ``error`` (some throw on non-2xx)."""
    return answer({"error": 1, "message": message}, status)


def php_date(value: datetime | None, tz: tzinfo) -> dict | None:
    """A date as PHP serialises ``DateTime``: ``{"date":"Y-m-d H:i:s.u","timezone_type":3,"timezone":…}``,
    type 3 with a zone's name, type 1 with a fixed offset's (``timeutil.zone_or_offset``)."""
    if value is None:
        return None
    local = as_utc(value).astimezone(tz)
    # isoformat is several times faster than strftime, which matters for 10,000-row listings.
    named = isinstance(tz, ZoneInfo)
    return {"date": local.isoformat(" ", "seconds")[:19] + ".000000", "timezone_type": 3 if named else 1,
            "timezone": tz.key if named else tz.tzname(None)}


def human_date(value: datetime | None, tz: tzinfo) -> str | None:
    """``d.m.Y H:i:s`` in the zone, as the original's ``…humanformat`` fields."""
    if value is None:
        return None
    return as_utc(value).astimezone(tz).strftime("%d.%m.%Y %H:%M:%S")
