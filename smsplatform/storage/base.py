"""What every storage backend implements, and the shape of the keys they are given."""
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

# Two hex characters of fan-out, 32 hex characters (128 random bits), the image's extension.
KEY_RE = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{32}\.(jpg|png|webp|gif)$")
CACHE_CONTROL = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class StoredKey:
    """One object found by ``Storage.list_keys``."""

    key: str
    modified_at: datetime  # aware, UTC


class Storage(Protocol):
    """A place for uploaded objects. Keys come from ``services.new_key`` and match ``KEY_RE``."""

    name: str

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key``, all or nothing."""

    def delete(self, key: str) -> None:
        """Remove the object; a missing object is not an error."""

    def url(self, key: str) -> str:
        """A URL a phone or a browser can fetch the object from."""

    def list_keys(self) -> Iterator[StoredKey]:
        """Every object of ours (keys matching ``KEY_RE``) in the backend."""
