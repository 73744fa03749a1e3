"""The dashboard: server-rendered pages for marketers (Flask-Login sessions, CSRF on every form).

Importing the page modules registers their routes on ``bp``.
"""
from smsplatform.web import (  # noqa: F401
    account_pages, contact_pages, device_pages, headers, message_pages, newsletter_pages, overview,
)
from smsplatform.web.blueprint import bp

__all__ = ["bp"]
