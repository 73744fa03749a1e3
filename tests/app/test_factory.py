"""App-wide behaviour: JSON errors for API clients, proxy headers only when trusted."""
from smsplatform import create_app


def test_unknown_api_path_answers_json_not_html(client):
    response = client.get("/api/mobile/v1/no-such-endpoint")
    assert response.status_code == 404
    assert response.is_json
    assert response.get_json()["code"] == 404


def test_wrong_method_on_api_path_answers_json(client):
    response = client.delete("/api/mobile/v1/settings")
    assert response.status_code == 405
    assert response.is_json


def test_forwarded_address_ignored_without_trusted_proxies(client):
    response = client.get("/api/mobile/v1/device", headers={"X-Forwarded-For": "203.0.113.7"})
    assert response.get_json()["externalIp"] == "127.0.0.1"


def test_forwarded_address_used_with_one_trusted_proxy(base_config, _schema):
    app = create_app({**base_config, "TRUSTED_PROXIES": 1})
    response = app.test_client().get("/api/mobile/v1/device", headers={"X-Forwarded-For": "203.0.113.7"})
    assert response.get_json()["externalIp"] == "203.0.113.7"
