"""Image uploads: what validation, the stored-object row and the commit cost over writing the bytes.

Runs in-process on a temporary SQLite database (or ``--database-url``: an empty database, migrated
for the run and left empty again; one with tables is refused) and a temporary upload folder, and
(unless --no-s3) against moto's S3 server started on loopback. For each backend it prints uploads
per second for the floor (the backend's own write of the same bytes, nothing else) and for
``store_image`` + commit, and their ratio; then the whole legacy ``addsms`` call with a file for
three recipients. Usage: ``.venv/bin/python bench/storage_upload.py [--count 100] [--size 1000000] [--no-s3]
[--database-url URL]``
"""
import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import boto3

import common  # first of the project's imports: it puts the project root on sys.path
from smsplatform.extensions import db
from smsplatform.storage import get_storage
from smsplatform.storage.images import PNG
from smsplatform.storage.services import new_key, store_image
from tests.storage.images import png


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else float("inf")


def timed(function, count: int) -> float:
    """Wall-clock seconds of ``count`` calls."""
    with common.Stopwatch() as watch:
        for _ in range(count):
            function()
    return watch.seconds


def run_backend(app, account, label: str, data: bytes, count: int) -> float:
    """Print the floor and store_image figures; returns the floor in uploads per second."""
    storage = get_storage(app)
    floor = timed(lambda: storage.put(new_key(PNG), data, "image/png"), count)

    def upload():
        store_image(account, "photo.png", data, "image/png")
        db.session.commit()

    measured = timed(upload, count)
    print(f"{label:6} floor (backend put only): {rate(count, floor):8.1f} uploads/s  "
          f"{rate(count, floor) * len(data) / 1e6:7.1f} MB/s")
    print(f"{label:6} store_image + commit:     {rate(count, measured):8.1f} uploads/s  "
          f"{rate(count, measured) * len(data) / 1e6:7.1f} MB/s  ratio {floor / measured:.2f} of floor")
    return rate(count, floor)


def run_addsms(app, token: str, device_id: int, data: bytes, count: int, floor_rate: float) -> None:
    client = app.test_client()

    def call():
        answer = client.post("/getdata/addsms", content_type="multipart/form-data", data={
            "token": token, "sendto": "+4915752982212,+4915752982213,+4915752982214", "device_id": str(device_id),
            "file": (io.BytesIO(data), "photo.png", "image/png"),
        }).get_json()
        assert answer["error"] == 0, answer

    elapsed = timed(call, count)
    calls = rate(count, elapsed)
    print(f"local  addsms with file, 3 recipients: {calls:8.1f} calls/s  ratio {calls / floor_rate:.2f} of floor")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--no-s3", action="store_true")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    data = png(64, 64, padding=max(0, args.size - 10_000))
    work = Path(tempfile.mkdtemp(prefix="bench-storage-"))
    try:
        app, database_url, _ = common.make_app(args.database_url, workdir=str(work), INSTANCE_PATH=str(work / "instance"),
                                               UPLOAD_DIR=str(work / "uploads"), SECRET_KEY="bench",
                                               WTF_CSRF_ENABLED=False, STORAGE_BACKEND="local")
        print(f"{args.count} uploads of a {len(data) / 1e6:.2f} MB PNG per measurement, "
              f"{common.backend_name(database_url)}")
        with common.scratch_schema(app):
            account, token, device = common.account_with_device(device_name="bench")
            floor_rate = run_backend(app, account, "local", data, args.count)
            run_addsms(app, token, device.id, data, args.count, floor_rate)
            if not args.no_s3:
                run_s3(app, account, data, args.count)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_s3(app, account, data: bytes, count: int) -> None:
    port = common.free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        common.wait_http(f"{endpoint}/moto-api/", server, 30)
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
        boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint).create_bucket(Bucket="bench")
        app.config.update(STORAGE_BACKEND="s3", S3_BUCKET="bench", S3_ENDPOINT_URL=endpoint, S3_REGION="us-east-1")
        app.extensions.pop("smsplatform.storage", None)
        run_backend(app, account, "s3", data, count)
    finally:
        common.stop(server)


if __name__ == "__main__":
    main()
