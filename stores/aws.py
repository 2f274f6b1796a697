"""Boto3 clients for the stores, with explicit timeouts and botocore's retries off.

Each client gets ``connect_timeout`` and ``read_timeout`` in seconds and one
attempt per call: ``stores.retry`` owns every retry decision, so retries wait on
the injected clock and are logged once. ``endpoint_url`` points every client at
an emulator or a VPC endpoint; when it is None, boto3 still honours
``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>`` from the environment.
"""

from __future__ import annotations

from dataclasses import dataclass

import boto3
from botocore.config import Config
from mypy_boto3_dynamodb import DynamoDBClient
from mypy_boto3_s3 import S3Client
from mypy_boto3_sqs import SQSClient

from stores.errors import ConfigurationError


@dataclass(frozen=True)
class AwsSettings:
    """Connection settings of the store clients; timeouts in seconds.

    ``region`` None means boto3's own lookup: the ``AWS_REGION`` or
    ``AWS_DEFAULT_REGION`` variable, then the shared config file.
    """

    region: str | None = None
    endpoint_url: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    max_pool_connections: int = 10

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout"):
            value = getattr(self, name)
            if not value > 0:
                raise ConfigurationError(f"AWS {name} must be above 0 seconds, got {value}.")
        if self.endpoint_url is not None and not self.endpoint_url.startswith(
            ("http://", "https://")
        ):
            raise ConfigurationError(
                f"AWS endpoint URL {self.endpoint_url!r} is invalid; "
                "give an http:// or https:// URL, or none for AWS itself."
            )

    def config(self) -> Config:
        """Return the botocore configuration every store client uses."""
        return Config(
            region_name=self.region,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            max_pool_connections=self.max_pool_connections,
            # One attempt: stores.retry decides, waits on the clock and logs.
            retries={"mode": "standard", "total_max_attempts": 1},
        )


def dynamodb_client(settings: AwsSettings, session: boto3.Session | None = None) -> DynamoDBClient:
    """Return a DynamoDB client configured by ``settings``."""
    return (session or boto3.Session()).client(
        "dynamodb", endpoint_url=settings.endpoint_url, config=settings.config()
    )


def sqs_client(settings: AwsSettings, session: boto3.Session | None = None) -> SQSClient:
    """Return an SQS client configured by ``settings``."""
    return (session or boto3.Session()).client(
        "sqs", endpoint_url=settings.endpoint_url, config=settings.config()
    )


def s3_client(settings: AwsSettings, session: boto3.Session | None = None) -> S3Client:
    """Return an S3 client configured by ``settings``.

    Path-style addressing when ``endpoint_url`` is set, because an emulator on
    an IP address has no per-bucket host names.
    """
    config = settings.config()
    if settings.endpoint_url is not None:
        config = config.merge(Config(s3={"addressing_style": "path"}))
    return (session or boto3.Session()).client(
        "s3", endpoint_url=settings.endpoint_url, config=config
    )
