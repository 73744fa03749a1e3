"""Uploads as files under ``UPLOAD_DIR``, served by the app at ``PUBLIC_BASE_URL/uploads/<key>``."""
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from smsplatform.storage.base import KEY_RE, StoredKey

URL_PATH = "/uploads"


class LocalStorage:
    name = "local"

    def __init__(self, root: str, public_base_url: str):
        self.root = Path(root).resolve()
        self.public_base_url = public_base_url.rstrip("/")

    def path_for(self, key: str) -> Path | None:
        """The file of a well-formed key, always inside the root; None for anything else."""
        if not isinstance(key, str) or not KEY_RE.fullmatch(key):
            return None
        path = (self.root / key).resolve()
        return path if path.is_relative_to(self.root) else None

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._checked_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write a temporary file beside the target and rename it: readers never see half a file.
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".upload-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp_name, 0o644)
            os.replace(temp_name, path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise

    def delete(self, key: str) -> None:
        self._checked_path(key).unlink(missing_ok=True)

    def url(self, key: str) -> str:
        self._checked_path(key)
        return f"{self.public_base_url}{URL_PATH}/{key}"

    def list_keys(self) -> Iterator[StoredKey]:
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir() or folder.is_symlink():
                continue
            for entry in sorted(folder.iterdir()):
                key = f"{folder.name}/{entry.name}"
                if KEY_RE.fullmatch(key) and entry.is_file():
                    modified = datetime.fromtimestamp(entry.stat().st_mtime, UTC)
                    yield StoredKey(key, modified)

    def _checked_path(self, key: str) -> Path:
        path = self.path_for(key)
        if path is None:
            raise ValueError(f"not a storage key: {key!r}")
        return path
