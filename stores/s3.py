"""Payloads too large for the queue, stored as S3 objects.

Object keys are ``<prefix><key hint>/<sha256 of the content>``, so the same
payload always lands on the same key and a retried upload overwrites an
identical object. Encryption is the bucket's default (SSE-S3 or SSE-KMS, set in
Terraform); expiry is the bucket's lifecycle rule.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from mypy_boto3_s3 import S3Client

from genesys_stream.clock import Clock
from stores.base import PayloadPointer
from stores.errors import ConfigurationError, StoreError, raise_if_configuration
from stores.retry import RetryPolicy, call_with_retries, is_retryable

log = logging.getLogger(__name__)

# The characters S3's object key guidelines list as safe. Any other character
# in a key hint becomes "_".
_UNSAFE_KEY_CHARACTERS = re.compile(r"[^0-9A-Za-z!\-_.*'()]")


class S3PayloadStore:
    """A ``PayloadStore`` on one S3 bucket."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        clock: Clock,
        prefix: str = "payloads/",
        retry: RetryPolicy | None = None,
    ) -> None:
        if not bucket:
            raise ConfigurationError("The payload bucket name is empty; set the S3 bucket name.")
        if prefix and not prefix.endswith("/"):
            raise ConfigurationError(
                f"The payload key prefix {prefix!r} must end with '/', for example 'payloads/'."
            )
        self._client = client
        self._bucket = bucket
        self._clock = clock
        self._prefix = prefix
        self._retry = retry or RetryPolicy()

    def put(self, key_hint: str, data: bytes) -> PayloadPointer:
        """Upload ``data``, a JSON message body, and return its location.

        Raises ``ConfigurationError`` when the bucket is missing or not writable,
        and ``StoreError`` when S3 keeps failing past the retry budget.
        """
        digest = hashlib.sha256(data).digest()
        hint = _UNSAFE_KEY_CHARACTERS.sub("_", key_hint)[:200] or "_"
        key = f"{self._prefix}{hint}/{digest.hex()}"
        try:
            call_with_retries(
                "s3.put_object",
                lambda: self._client.put_object(
                    Bucket=self._bucket,
                    Key=key,
                    Body=data,
                    ContentType="application/json",
                    ChecksumSHA256=base64.b64encode(digest).decode("ascii"),
                ),
                self._clock,
                self._retry,
                bucket=self._bucket,
                key=key,
            )
        except ClientError as exc:
            raise_if_configuration(exc, f"S3 bucket {self._bucket}")
            if not is_retryable(exc):
                raise
            raise self._gave_up(key) from exc
        except (BotocoreConnectionError, HTTPClientError) as exc:
            raise self._gave_up(key) from exc
        log.debug("payload.stored", extra={"bucket": self._bucket, "key": key, "size": len(data)})
        return PayloadPointer(bucket=self._bucket, key=key, size=len(data), sha256=digest.hex())

    def _gave_up(self, key: str) -> StoreError:
        return StoreError(
            f"S3 kept failing to store {key} in bucket {self._bucket} "
            "past the retry budget; send the message again later."
        )
