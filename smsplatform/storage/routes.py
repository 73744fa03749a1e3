"""``GET /uploads/<key>``: the local backend's public URLs (the app serves them; S3 serves its own)."""
from flask import Blueprint, abort, send_file

from smsplatform.storage import get_storage
from smsplatform.storage.images import KINDS
from smsplatform.storage.local import URL_PATH

bp = Blueprint("uploads", __name__, url_prefix=URL_PATH)

_CONTENT_TYPES = {kind.extension: kind.content_type for kind in KINDS}


@bp.get("/<path:key>")
def serve(key: str):
    path = get_storage(backend="local").path_for(key)
    if path is None or not path.is_file():
        abort(404)
    response = send_file(path, mimetype=_CONTENT_TYPES[path.suffix[1:]], max_age=31536000, conditional=True, etag=True)
    response.cache_control.public = True
    response.cache_control.immutable = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
