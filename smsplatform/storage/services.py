"""Uploaded images: validation, storage under random keys, and the objects' lifecycle.

An object is written to storage before the row that references it commits. Every key written in a
transaction is remembered in ``session.info``; if the transaction ends without committing (rollback,
failed commit, closed session), the objects are deleted again. Objects whose rows are deleted are
removed from storage only once that deletion commits. ``delete_unreferenced`` (a scheduler job)
collects whatever slipped through, such as the objects of a process killed between upload and commit.
"""
import hashlib
import logging
import secrets

from flask import current_app
from sqlalchemy import delete, event, select
from sqlalchemy.orm import Session

from smsplatform.errors import ValidationError
from smsplatform.extensions import db
from smsplatform.models import AccountSettings, Message, Paket, StoredObject
from smsplatform.sizes import size_text
from smsplatform.storage import Storage, get_storage
from smsplatform.storage.images import ImageKind, detect_image
from smsplatform.timeutil import ago

log = logging.getLogger(__name__)

# session.info keys: [(storage, key)] written in the current transaction / to delete once it commits.
UNCOMMITTED_KEY = "smsplatform_storage_uncommitted"
DELETE_AFTER_COMMIT_KEY = "smsplatform_storage_delete_after_commit"
_CHUNK = 500


def store_image(account: AccountSettings, filename: str | None, data: bytes, declared_type: str | None) -> StoredObject:
    """Validate an uploaded image by its content and store it; the caller commits the returned row.

    ``filename`` and ``declared_type`` are only checked for hostile values: the key, the extension and
    the content type come from the bytes.
    """
    _check_filename(filename)
    if not isinstance(data, bytes | bytearray) or not data:
        raise ValidationError("file is empty", field="file")
    limit = current_app.config["UPLOAD_MAX_BYTES"]
    if len(data) > limit:
        raise image_too_large(limit)
    if declared_type is not None and ("\x00" in declared_type or len(declared_type) > 255):
        raise ValidationError("file has an invalid content type", field="file")
    kind = detect_image(bytes(data))

    storage = get_storage()
    obj = StoredObject(
        account_id=account.id, backend=storage.name, key=new_key(kind), content_type=kind.content_type,
        size=len(data), sha256=hashlib.sha256(data).hexdigest(),
    )
    db.session.add(obj)
    db.session.flush()  # the transaction now exists, so its end is sure to be seen by the listener
    db.session.info.setdefault(UNCOMMITTED_KEY, []).append((storage, obj.key))
    storage.put(obj.key, bytes(data), kind.content_type)
    return obj


def image_too_large(limit: int) -> ValidationError:
    """The refusal of an image past ``limit`` bytes (also told of one the web server stopped unread)."""
    return ValidationError(f"file is too large: at most {size_text(limit)} is accepted", field="file")


def public_url(obj: StoredObject) -> str:
    """The URL phones and recipients fetch the object from (a fresh presigned URL on private S3)."""
    return get_storage(backend=obj.backend).url(obj.key)


def new_key(kind: ImageKind) -> str:
    """128 random bits, fanned out over 256 folders, with the extension of the detected format."""
    token = secrets.token_hex(16)
    return f"{token[:2]}/{token}.{kind.extension}"


def delete_account_objects(account: AccountSettings) -> int:
    """Delete the account's stored-object rows now and their objects once the transaction commits."""
    rows = db.session.execute(
        select(StoredObject.backend, StoredObject.key).where(StoredObject.account_id == account.id)
    ).all()
    for backend, key in rows:
        _delete_after_commit(get_storage(backend=backend), key)
    db.session.execute(delete(StoredObject).where(StoredObject.account_id == account.id))
    return len(rows)


def delete_unreferenced(older_than_seconds: int = 86400, now=None) -> int:
    """Scheduler job: delete objects older than ``older_than_seconds`` that nothing references.

    Two kinds: rows no message or newsletter points to, and objects in the configured backend that
    have no row at all (their transaction never committed). Returns how many objects go.
    """
    cutoff = ago(older_than_seconds, now)
    row_keys = _delete_unreferenced_rows(cutoff)
    storage = get_storage()
    orphans = [stored.key for stored in storage.list_keys()
               if stored.modified_at < cutoff and stored.key not in row_keys]
    removed = len(row_keys)
    for start in range(0, len(orphans), _CHUNK):
        chunk = orphans[start:start + _CHUNK]
        known = set(db.session.scalars(select(StoredObject.key).where(StoredObject.key.in_(chunk))))
        for key in chunk:
            if key not in known:
                _delete_quietly(storage, key)
                removed += 1
    return removed


def _unreferenced():
    """No message and no newsletter points to the stored object."""
    return (
        ~select(Message.id).where(Message.media_object_id == StoredObject.id).exists()
        & ~select(Paket.id).where(Paket.media_object_id == StoredObject.id).exists()
    )


def delete_if_unreferenced(object_id: int) -> bool:
    """Delete one stored object's row now, and the object once the transaction commits, if no message or
    newsletter references it any more (one conditional DELETE); True if it went. For an object whose last
    reference the caller just removed; anything else is left to ``delete_unreferenced``."""
    row = db.session.execute(
        select(StoredObject.backend, StoredObject.key).where(StoredObject.id == object_id)
    ).one_or_none()
    if row is None:
        return False
    result = db.session.execute(delete(StoredObject).where(StoredObject.id == object_id, _unreferenced()))
    if result.rowcount != 1:
        return False
    _delete_after_commit(get_storage(backend=row.backend), row.key)
    return True


def _delete_unreferenced_rows(cutoff) -> set[str]:
    """Delete old rows nothing references; their objects go after the commit. Returns their keys."""
    unreferenced = _unreferenced()
    candidates = db.session.execute(
        select(StoredObject.id, StoredObject.backend, StoredObject.key).where(StoredObject.created_at < cutoff, unreferenced)
    ).all()
    removed: set[str] = set()
    for start in range(0, len(candidates), _CHUNK):
        chunk = candidates[start:start + _CHUNK]
        ids = [row.id for row in chunk]
        # Conditional again: a row referenced since the select above stays.
        db.session.execute(delete(StoredObject).where(StoredObject.id.in_(ids), unreferenced))
        kept = set(db.session.scalars(select(StoredObject.id).where(StoredObject.id.in_(ids))))
        for row in chunk:
            if row.id not in kept:
                _delete_after_commit(get_storage(backend=row.backend), row.key)
                removed.add(row.key)
    return removed


def _check_filename(filename) -> None:
    """The name is never used for storage, but a hostile one is refused rather than silently dropped."""
    if filename is None:
        return
    if not isinstance(filename, str) or len(filename) > 1024:
        raise ValidationError("file name is invalid", field="file")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in filename):
        raise ValidationError("file name must not contain control characters", field="file")
    if ".." in filename.replace("\\", "/").split("/"):
        raise ValidationError("file name must not contain a path ('..')", field="file")


def _delete_after_commit(storage: Storage, key: str) -> None:
    db.session.info.setdefault(DELETE_AFTER_COMMIT_KEY, []).append((storage, key))


def _delete_quietly(storage: Storage, key: str) -> None:
    try:
        storage.delete(key)
    except Exception:  # the cleanup job retries what could not be deleted now
        log.exception("could not delete stored object %s from %s storage", key, storage.name)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    session.info.pop(UNCOMMITTED_KEY, None)
    for storage, key in session.info.pop(DELETE_AFTER_COMMIT_KEY, []):
        _delete_quietly(storage, key)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction) -> None:
    """The outermost transaction ended without a commit: drop its uploads, keep what it meant to delete."""
    if transaction.parent is not None:
        return
    session.info.pop(DELETE_AFTER_COMMIT_KEY, None)
    for storage, key in session.info.pop(UNCOMMITTED_KEY, []):
        _delete_quietly(storage, key)
