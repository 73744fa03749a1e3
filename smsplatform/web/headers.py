"""Security headers on every dashboard answer: no framing (clickjacking), no content sniffing, no full
URLs in the Referer to other sites, and a Content-Security-Policy the pages satisfy (they have no inline
script, style or event handler; app.js and app.css are served from this origin; a newsletter's image may
come from an S3 endpoint, and its chosen file is previewed from a ``blob:`` URL). HSTS when the platform
is reached over https. The machine APIs answer without them; ``/uploads`` sets its own, stricter policy."""
from flask import Response, current_app

from smsplatform.web.blueprint import bp

CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' https: http: data: blob:; object-src 'none'; "
                           "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
HSTS_SECONDS = 365 * 24 * 3600


@bp.after_request
def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if current_app.config["PUBLIC_BASE_URL"].startswith("https://"):
        response.headers["Strict-Transport-Security"] = f"max-age={HSTS_SECONDS}"
    return response
