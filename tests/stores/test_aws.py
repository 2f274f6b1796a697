"""Client factory settings and the payload store, against moto."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from genesys_stream.clock import FakeClock
from stores.aws import AwsSettings, dynamodb_client, s3_client, sqs_client
from stores.errors import ConfigurationError, StoreError
from stores.retry import RetryPolicy
from stores.s3 import S3PayloadStore


def test_config_sets_timeouts_and_one_attempt() -> None:
    config = AwsSettings(region="eu-west-1", connect_timeout=2.0, read_timeout=7.5).config()

    assert config.connect_timeout == 2.0
    assert config.read_timeout == 7.5
    assert config.region_name == "eu-west-1"
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"read_timeout": -1}, "read_timeout"),
        ({"endpoint_url": "127.0.0.1:4566"}, "127.0.0.1:4566"),
    ],
)
def test_settings_reject_invalid_values(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        AwsSettings(**settings)


def test_clients_use_endpoint(aws_endpoint: str) -> None:
    settings = AwsSettings(region="us-east-1", endpoint_url=aws_endpoint)
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")

    clients = [factory(settings, session) for factory in (dynamodb_client, sqs_client, s3_client)]

    assert all(client.meta.endpoint_url == aws_endpoint for client in clients)
    assert clients[0].list_tables()["TableNames"] is not None
    assert clients[2].meta.config.s3 == {"addressing_style": "path"}


def test_payload_put_stores_content(s3_client: Any, s3_bucket: Callable[[], str]) -> None:
    bucket = s3_bucket()
    store = S3PayloadStore(s3_client, bucket, FakeClock())
    data = b'{"big":"payload"}'

    pointer = store.put("c-1/../odd id", data)

    stored = s3_client.get_object(Bucket=bucket, Key=pointer.key)["Body"].read()
    assert stored == data
    assert pointer.bucket == bucket
    assert pointer.size == len(data)
    assert pointer.sha256 == hashlib.sha256(data).hexdigest()
    assert pointer.key == f"payloads/c-1_.._odd_id/{pointer.sha256}"


def test_payload_put_is_idempotent(s3_client: Any, s3_bucket: Callable[[], str]) -> None:
    store = S3PayloadStore(s3_client, s3_bucket(), FakeClock())

    first = store.put("c-1", b"same")
    second = store.put("c-1", b"same")

    assert first == second


def test_payload_missing_bucket(s3_client: Any) -> None:
    store = S3PayloadStore(s3_client, "absent-bucket", FakeClock())

    with pytest.raises(ConfigurationError, match="absent-bucket"):
        store.put("c-1", b"data")


def test_payload_gives_up_on_slowdown(
    s3_client: Any, s3_bucket: Callable[[], str], faults: Any
) -> None:
    clock = FakeClock()
    store = S3PayloadStore(s3_client, s3_bucket(), clock, retry=RetryPolicy(max_elapsed=20.0))
    faults.fail_calls(s3_client, "s3.PutObject", "SlowDown", lambda: False, 503)

    with pytest.raises(StoreError, match="retry budget"):
        store.put("c-1", b"data")

    assert 0 < clock.monotonic() <= 20.0


@pytest.mark.parametrize(("bucket", "prefix"), [("", "payloads/"), ("b", "payloads")])
def test_payload_rejects_invalid_settings(s3_client: Any, bucket: str, prefix: str) -> None:
    with pytest.raises(ConfigurationError):
        S3PayloadStore(s3_client, bucket, FakeClock(), prefix=prefix)
