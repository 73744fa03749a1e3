"""The dashboard's image upload path, shared by the send form and the newsletter form."""
from flask import current_app

from smsplatform.models import Account, StoredObject
from smsplatform.storage.services import store_image


def store_upload(account: Account, upload) -> StoredObject | None:
    """The uploaded image as a StoredObject (validated by ``store_image``), or None when no file was chosen.

    Reads one byte past the limit, so an oversized file is refused without reading all of it.
    """
    if upload is None or not getattr(upload, "filename", ""):
        return None
    data = upload.read(current_app.config["UPLOAD_MAX_BYTES"] + 1)
    return store_image(account, upload.filename, data, upload.mimetype or None)
