"""The dashboard's image upload path, shared by the send form and the newsletter form."""
from flask import current_app

from smsplatform.errors import ValidationError
from smsplatform.models import Account, StoredObject
from smsplatform.storage.services import image_too_large, store_image


def store_upload(account: Account, upload) -> StoredObject | None:
    """The uploaded image as a StoredObject (validated by ``store_image``), or None when no file was chosen.

    Reads one byte past the limit, so an oversized file is refused without reading all of it.
    """
    if upload is None or not getattr(upload, "filename", ""):
        return None
    data = upload.read(current_app.config["UPLOAD_MAX_BYTES"] + 1)
    return store_image(account, upload.filename, data, upload.mimetype or None)


def upload_too_large() -> ValidationError:
    """The refusal of an image in a request the web server stopped at ``MAX_CONTENT_LENGTH``, unread: the words
    an image past ``UPLOAD_MAX_BYTES`` gets, naming the lower of the two limits (the one the image must meet)."""
    config = current_app.config
    return image_too_large(min(config["UPLOAD_MAX_BYTES"], config["MAX_CONTENT_LENGTH"]))
