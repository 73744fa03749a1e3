"""Requests as a WSGI server passes on a ``Transfer-Encoding: chunked`` body."""
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request


def send_chunked(client, method: str, path: str, body: bytes, headers: dict):
    """``body`` with no Content-Length, and ``wsgi.input_terminated`` (gunicorn always sets it, werkzeug's
    server for chunked bodies)."""
    environ = EnvironBuilder(path=path, method=method, data=body, headers=headers).get_environ()
    del environ["CONTENT_LENGTH"]
    environ.update({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True})
    return client.open(Request(environ))
