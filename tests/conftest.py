"""Fixtures shared by every test folder: an AWS emulator on loopback and resources in it.

``aws_endpoint`` starts moto's server once per session on 127.0.0.1 and a free
port. While it runs, the AWS environment variables hold throwaway credentials
and ``AWS_ENDPOINT_URL`` points at the emulator, so a client built without an
explicit endpoint still never reaches AWS. The factories create uniquely named
tables, queues and buckets, and delete them after the test, because moto's SQS
slows down as queues fill.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
# Seconds; the emulator is local, so anything slower than this is a hang.
_TIMEOUT = 10.0


@pytest.fixture(scope="session")
def aws_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Return the URL of a moto server on loopback, with dummy AWS credentials set."""
    empty = tmp_path_factory.mktemp("aws") / "none"
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_SESSION_TOKEN", "testing")
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        patch.setenv("AWS_REGION", REGION)
        # No shared config or credential files: only the values above count.
        patch.setenv("AWS_CONFIG_FILE", str(empty))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))

        # One access log line per request would bury the test output.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        patch.setenv("AWS_ENDPOINT_URL", endpoint)
        try:
            yield endpoint
        finally:
            server.stop()


@pytest.fixture(scope="session")
def aws_session(aws_endpoint: str) -> boto3.Session:
    """Return one boto3 session for every test, so service models load once."""
    return boto3.Session(
        region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def _client(session: boto3.Session, service: str, endpoint: str) -> Any:
    """Return a new client: tests register fault handlers on clients, so none is shared."""
    return session.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        config=Config(
            connect_timeout=_TIMEOUT,
            read_timeout=_TIMEOUT,
            retries={"mode": "standard", "total_max_attempts": 1},
            s3={"addressing_style": "path"},
        ),
    )


@pytest.fixture
def dynamodb_client(aws_session: boto3.Session, aws_endpoint: str) -> Any:
    """Return a DynamoDB client on the emulator."""
    return _client(aws_session, "dynamodb", aws_endpoint)


@pytest.fixture
def sqs_client(aws_session: boto3.Session, aws_endpoint: str) -> Any:
    """Return an SQS client on the emulator."""
    return _client(aws_session, "sqs", aws_endpoint)


@pytest.fixture
def s3_client(aws_session: boto3.Session, aws_endpoint: str) -> Any:
    """Return an S3 client on the emulator."""
    return _client(aws_session, "s3", aws_endpoint)


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def dynamodb_table(dynamodb_client: Any) -> Iterator[Callable[..., str]]:
    """Return a factory of on-demand tables with a string hash key; each call returns a name.

    ``hash_key`` names the key (``conversationId`` for conversations, ``pk`` for
    the control table); ``ttl_attribute`` turns TTL on for that attribute.
    """
    created: list[str] = []

    def create(hash_key: str = "conversationId", ttl_attribute: str | None = None) -> str:
        name = _unique("table")
        dynamodb_client.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": hash_key, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": hash_key, "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        if ttl_attribute is not None:
            dynamodb_client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute},
            )
        created.append(name)
        return name

    yield create
    for name in created:
        dynamodb_client.delete_table(TableName=name)


@pytest.fixture
def sqs_queue(sqs_client: Any) -> Iterator[Callable[..., str]]:
    """Return a factory of queues; each call returns a queue URL.

    FIFO by default (``fifo=False`` for standard); ``maximum_message_size`` in
    bytes sets the queue's ``MaximumMessageSize``.
    """
    created: list[str] = []

    def create(fifo: bool = True, maximum_message_size: int | None = None) -> str:
        name = _unique("queue") + (".fifo" if fifo else "")
        attributes = {"FifoQueue": "true"} if fifo else {}
        if maximum_message_size is not None:
            attributes["MaximumMessageSize"] = str(maximum_message_size)
        url: str = sqs_client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        created.append(url)
        return url

    yield create
    for url in created:
        sqs_client.delete_queue(QueueUrl=url)


@pytest.fixture
def s3_bucket(s3_client: Any) -> Iterator[Callable[[], str]]:
    """Return a factory of empty buckets; each call returns a bucket name."""
    created: list[str] = []

    def create() -> str:
        name = _unique("bucket")
        s3_client.create_bucket(Bucket=name)
        created.append(name)
        return name

    yield create
    for name in created:
        listed = s3_client.list_objects_v2(Bucket=name).get("Contents", [])
        for entry in listed:
            s3_client.delete_object(Bucket=name, Key=entry["Key"])
        s3_client.delete_bucket(Bucket=name)
