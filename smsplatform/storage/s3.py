"""Uploads in an S3 bucket (or any S3-compatible service through ``S3_ENDPOINT_URL``).

Credentials come from boto3's standard chain (environment, shared config files, instance or task
role). URLs handed out are ``S3_PUBLIC_BASE_URL/<prefix><key>`` when a public base URL is set
(a public-read bucket policy or a CDN in front), otherwise presigned GET URLs that live
``S3_PRESIGN_SECONDS``.
"""
from collections.abc import Iterator, Mapping
from datetime import UTC

import boto3
from botocore.config import Config

from smsplatform.config import MAX_PRESIGN_SECONDS  # SigV4 presigned URLs cannot live longer than seven days
from smsplatform.storage.base import CACHE_CONTROL, KEY_RE, StoredKey


class S3Storage:
    name = "s3"

    def __init__(self, bucket: str, *, prefix: str = "", region: str | None = None, endpoint_url: str | None = None,
                 public_base_url: str | None = None, presign_seconds: int = MAX_PRESIGN_SECONDS):
        if not bucket:
            raise ValueError("S3_BUCKET must be set when STORAGE_BACKEND is s3")
        if not 1 <= presign_seconds <= MAX_PRESIGN_SECONDS:
            raise ValueError(f"S3_PRESIGN_SECONDS must be between 1 and {MAX_PRESIGN_SECONDS}")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.presign_seconds = presign_seconds
        self.client = boto3.session.Session().client(
            "s3", region_name=region, endpoint_url=endpoint_url,
            config=Config(signature_version="s3v4", retries={"max_attempts": 3, "mode": "standard"}),
        )

    @classmethod
    def from_config(cls, config: Mapping) -> "S3Storage":
        return cls(
            config["S3_BUCKET"], prefix=config["S3_PREFIX"], region=config["S3_REGION"],
            endpoint_url=config["S3_ENDPOINT_URL"], public_base_url=config["S3_PUBLIC_BASE_URL"],
            presign_seconds=config["S3_PRESIGN_SECONDS"],
        )

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._object_key(key), Body=data,
                               ContentType=content_type, CacheControl=CACHE_CONTROL)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._object_key(key))

    def url(self, key: str) -> str:
        object_key = self._object_key(key)
        if self.public_base_url:
            return f"{self.public_base_url}/{object_key}"
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": object_key}, ExpiresIn=self.presign_seconds,
        )

    def list_keys(self) -> Iterator[StoredKey]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"][len(self.prefix):]
                if KEY_RE.fullmatch(key):
                    yield StoredKey(key, item["LastModified"].astimezone(UTC))

    def _object_key(self, key: str) -> str:
        if not isinstance(key, str) or not KEY_RE.fullmatch(key):
            raise ValueError(f"not a storage key: {key!r}")
        return self.prefix + key
