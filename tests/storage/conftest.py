"""Storage fixtures: a real S3-compatible server (moto) on loopback (the private upload root per test is
tests/conftest.py's ``upload_root``)."""
import subprocess
import sys
import uuid

import boto3
import pytest

from tests.support.servers import free_port, stop, wait_http


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's standalone S3 server, a separate process on a free loopback port, for the whole run."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/moto-api/", process, 30)
        yield url
    finally:
        stop(process)


@pytest.fixture
def s3(app, s3_endpoint, monkeypatch, tmp_path):
    """The app on the S3 backend with a fresh bucket; credentials through the standard AWS chain (env)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-access-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    bucket = f"smsplatform-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", region_name="us-east-1", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket=bucket)
    app.config.update(STORAGE_BACKEND="s3", S3_BUCKET=bucket, S3_PREFIX="media/tenant-a", S3_REGION="us-east-1",
                      S3_ENDPOINT_URL=s3_endpoint, S3_PUBLIC_BASE_URL=None, S3_PRESIGN_SECONDS=600)
    app.extensions.pop("smsplatform.storage", None)
    client.bucket = bucket
    return client


def bucket_keys(client) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=client.bucket).get("Contents", []))


