"""Object storage for uploaded images: local files under ``UPLOAD_DIR`` (default) or S3 (boto3).

``get_storage`` picks the backend from the configuration; both implement ``base.Storage``.
"""
from collections.abc import Mapping

from flask import Flask, current_app

from smsplatform.storage.base import KEY_RE, Storage, StoredKey
from smsplatform.storage.local import LocalStorage

BACKENDS = ("local", "s3")

__all__ = ["BACKENDS", "KEY_RE", "LocalStorage", "Storage", "StoredKey", "get_storage"]


def get_storage(app_or_config: Flask | Mapping | None = None, backend: str | None = None) -> Storage:
    """The backend named ``backend`` (default: ``STORAGE_BACKEND``), built once per app.

    Pass a Flask app (or nothing, for the current app) to reuse one client per process; a plain
    config mapping builds a fresh backend.
    """
    target = current_app._get_current_object() if app_or_config is None else app_or_config
    if isinstance(target, Flask):
        name = backend or target.config["STORAGE_BACKEND"]
        cache = target.extensions.setdefault("smsplatform.storage", {})
        if name not in cache:
            cache[name] = _build(target.config, name)
        return cache[name]
    return _build(target, backend or target["STORAGE_BACKEND"])


def _build(config: Mapping, name: str) -> Storage:
    if name == "local":
        return LocalStorage(config["UPLOAD_DIR"], config["PUBLIC_BASE_URL"])
    if name == "s3":
        from smsplatform.storage.s3 import S3Storage  # boto3 is loaded only when S3 is configured

        return S3Storage.from_config(config)
    raise ValueError(f"STORAGE_BACKEND must be one of {', '.join(BACKENDS)}, not {name!r}")
