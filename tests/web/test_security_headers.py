"""Security headers on the dashboard's answers, and none added to the machine APIs' answers."""
import pytest

from smsplatform import create_app

DASHBOARD_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' https: http: data: blob:; object-src 'none'; "
                               "base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def security_headers(response) -> dict:
    return {name: response.headers.get(name) for name in (*DASHBOARD_HEADERS, "Strict-Transport-Security")}


def test_the_login_page_cannot_be_framed_or_sniffed(client):
    assert security_headers(client.get("/login")) == {**DASHBOARD_HEADERS, "Strict-Transport-Security": None}


@pytest.mark.parametrize("url", ["/", "/contacts", "/contacts/import", "/newsletters/new", "/account",
                                 "/contacts/export.csv", "/messages/404"])
def test_signed_in_pages_downloads_and_errors_carry_the_headers(web, url):
    assert security_headers(web.get(url)) == {**DASHBOARD_HEADERS, "Strict-Transport-Security": None}


def test_hsts_only_when_the_platform_is_reached_over_https(app, base_config):
    https_app = create_app({**base_config, "PUBLIC_BASE_URL": "https://sms.example.com"})
    with https_app.app_context():
        response = https_app.test_client().get("/login")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


@pytest.mark.parametrize("method, url", [("POST", "/getdata/addsms"), ("GET", "/api/mobile/v1/device")])
def test_the_machine_apis_answer_as_before(client, method, url):
    response = client.open(url, method=method)
    assert security_headers(response) == dict.fromkeys((*DASHBOARD_HEADERS, "Strict-Transport-Security"))
