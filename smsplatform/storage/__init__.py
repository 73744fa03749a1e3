"""Object storage for uploaded images: local files under ``UPLOAD_DIR`` (default) or S3 (boto3).

``get_storage`` picks the backend from the configuration; both implement ``base.Storage``.
"""
from collections.abc import Mapping

from flask import Flask, current_app

from smsplatform.config import STORAGE_BACKENDS as BACKENDS
from smsplatform.storage.base import KEY_RE, Storage, StoredKey
from smsplatform.storage.local import LocalStorage

__all__ = ["BACKENDS", "KEY_RE", "LocalStorage", "Storage", "StoredKey", "get_storage"]


def get_storage(app: Flask | None = None, backend: str | None = None) -> Storage:
    """The backend named ``backend`` (default: ``STORAGE_BACKEND``) of ``app`` (default: the current
    app), built once per app so a process reuses one client."""
    app = app or current_app._get_current_object()
    name = backend or app.config["STORAGE_BACKEND"]
    cache = app.extensions.setdefault("smsplatform.storage", {})
    if name not in cache:
        cache[name] = _build(app.config, name)
    return cache[name]


def _build(config: Mapping, name: str) -> Storage:
    if name == "local":
        return LocalStorage(config["UPLOAD_DIR"], config["PUBLIC_BASE_URL"])
    if name == "s3":
        from smsplatform.storage.s3 import S3Storage  # boto3 is loaded only when S3 is configured

        return S3Storage.from_config(config)
    raise ValueError(f"STORAGE_BACKEND must be one of {', '.join(BACKENDS)}, not {name!r}")
