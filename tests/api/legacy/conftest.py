"""Helpers for the legacy API tests: devices and the five input encodings."""
import json
from urllib.parse import urlencode

import pytest
from werkzeug.datastructures import MultiDict

from smsplatform.extensions import db
from smsplatform.models import Message

ENCODINGS = ("query", "form", "multipart", "json", "datajson")


@pytest.fixture
def owner(account, make_device):
    """(account, token, device) for the main caller."""
    acct, token = account
    return acct, token, make_device(acct)


@pytest.fixture
def other(make_account, make_device):
    """(account, token, device) of a second, unrelated account."""
    acct, token = make_account(email="other@example.com")
    return acct, token, make_device(acct, name="Other phone")


def php_pairs(params: dict, prefix: str = "") -> list[tuple[str, str]]:
    """Flatten nested params the way PHP's http_build_query does: ``smsdata[0][sendto]``."""
    pairs = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            pairs += php_pairs(value, name)
        elif isinstance(value, list):
            pairs += php_pairs({str(i): item for i, item in enumerate(value)}, name)
        elif isinstance(value, bool):
            pairs.append((name, "1" if value else "0"))
        else:
            pairs.append((name, "" if value is None else str(value)))
    return pairs


def call(client, method: str, params: dict, encoding: str = "form", **kwargs):
    """Call ``/getdata/<method>`` with ``params`` in one of the encodings legacy clients use."""
    path = f"/getdata/{method}"
    if encoding == "query":
        response = client.get(path, query_string=php_pairs(params), **kwargs)
    elif encoding == "form":
        response = client.post(path, data=urlencode(php_pairs(params)),
                               content_type="application/x-www-form-urlencoded", **kwargs)
    elif encoding == "multipart":
        response = client.post(path, data=MultiDict(php_pairs(params)), content_type="multipart/form-data",
                               **kwargs)
    elif encoding == "json":
        response = client.post(path, json=params, **kwargs)
    elif encoding == "datajson":
        response = client.post(path, data={"datajson": json.dumps(params)}, **kwargs)
    else:
        raise ValueError(encoding)
    assert response.mimetype == "application/json", response.data[:200]
    return response


def ok(response) -> dict:
    data = response.get_json()
    assert response.status_code == 200, data
    assert data["error"] == 0, data
    return data


def refused(response, *words, status: int = 200) -> str:
    """The call failed with the legacy envelope; its message mentions every one of ``words``."""
    data = response.get_json()
    assert response.status_code == status, data
    assert data["error"] == 1 and set(data) == {"error", "message"}, data
    for word in words:
        assert word.lower() in data["message"].lower(), (word, data["message"])
    return data["message"]


def messages() -> list[Message]:
    """Every stored message, read again, in id order."""
    db.session.expire_all()
    return db.session.query(Message).order_by(Message.id).all()
