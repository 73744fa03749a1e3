"""Cookie sessions for the dashboard only.

The machine APIs (``/getdata/*`` for integrations, ``/api/*`` for phones) authenticate every call
with a token and never read or write a session; opening one (building the signing serializer,
looking for the cookie) and saving it is pure cost on their hot paths, so they get Flask's null
session instead.
"""
from flask.sessions import SecureCookieSessionInterface

MACHINE_API_PREFIXES = ("/getdata/", "/api/")


class DashboardSessionInterface(SecureCookieSessionInterface):
    def open_session(self, app, request):
        if request.path.startswith(MACHINE_API_PREFIXES):
            return self.make_null_session(app)
        return super().open_session(app, request)
