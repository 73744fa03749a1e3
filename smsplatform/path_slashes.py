"""Repeated slashes in a machine API's path are one: a base URL typed with a trailing slash
(``https://sms.example.com/`` + ``/getdata/addsms``, ``…/api/mobile/v1/`` + ``/device``) must still reach
the method. Clients do not follow redirects for POST or PATCH, so the path is repaired in place.
"""
import re

_SLASHES = re.compile("/{2,}")


class MergedSlashes:
    """WSGI wrapper: a path with ``//`` whose merged form starts with one of ``prefixes`` is served as that."""

    def __init__(self, wsgi_app, prefixes: tuple[str, ...]):
        self.wsgi_app = wsgi_app
        self.prefixes = tuple(prefix.rstrip("/") + "/" for prefix in prefixes)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if "//" in path:
            merged = _SLASHES.sub("/", path)
            if merged.startswith(self.prefixes):
                environ["PATH_INFO"] = merged
        return self.wsgi_app(environ, start_response)
