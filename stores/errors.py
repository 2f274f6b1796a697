"""Errors raised by the stores.

Every exception a store raises on purpose is a ``StoreError``, with two
exceptions. ``stores.base.RevisionConflict`` is an expected outcome of
optimistic concurrency rather than a failure. ``ValueError`` rejects an invalid
argument, such as a record whose revision does not move forward. ``botocore``
exceptions are translated at the boundary and chained with ``from``::

    StoreError               a read or payload upload that failed after the retry budget
    ├── ConfigurationError   a missing or denied table, queue or bucket, or an invalid setting
    ├── StateWriteError      a state or checkpoint write that failed or was rejected as invalid
    └── DeliveryError        messages that were not delivered, listed in ``failed``

A ``ClientError`` whose code the stores do not map, and every other exception,
is re-raised unchanged: it is a bug or an outage this module does not
know how to name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from botocore.exceptions import BotoCoreError, ClientError

from stores.base import OutboundMessage

# Codes that mean the resource or the credentials are wrong: retrying cannot help,
# and a human must fix the configuration or the IAM policy.
CONFIGURATION_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AWS.SimpleQueueService.NonExistentQueue",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "KMS.AccessDeniedException",
        "KmsAccessDenied",
        "NoSuchBucket",
        "QueueDoesNotExist",
        "ResourceNotFoundException",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
    }
)


class StoreError(Exception):
    """Base class of every failure the stores raise."""


class ConfigurationError(StoreError):
    """A store cannot work as configured: a missing resource, denied access, a bad setting."""


class StateWriteError(StoreError):
    """A state or checkpoint write failed after the retry budget, or was rejected as invalid."""

    def __init__(self, message: str, *, conversation_id: str | None = None) -> None:
        super().__init__(message)
        self.conversation_id = conversation_id


class DeliveryError(StoreError):
    """Some messages were not delivered; every other message of the call was.

    ``failed`` lists every undelivered message, in the order given to ``send``.
    ``permanent`` is the subset that can never be delivered as it is (a body with
    characters SQS rejects, or one the queue refused as the sender's fault): send
    those to a dead letter instead of retrying. ``reasons`` maps a message's
    ``deduplication_id`` to one sentence saying why it failed.
    """

    def __init__(
        self,
        failed: Sequence[OutboundMessage],
        *,
        permanent: Sequence[OutboundMessage] = (),
        reasons: Mapping[str, str] | None = None,
    ) -> None:
        self.failed = list(failed)
        self.permanent = list(permanent)
        self.reasons = dict(reasons or {})
        super().__init__(self._describe())

    def _describe(self) -> str:
        listed = [
            f"{message.deduplication_id} ({self.reasons.get(message.deduplication_id, 'unknown')})"
            for message in self.failed[:5]
        ]
        more = f" and {len(self.failed) - 5} more" if len(self.failed) > 5 else ""
        return (
            f"{len(self.failed)} message(s) were not delivered, {len(self.permanent)} of them "
            f"permanently: {', '.join(listed)}{more}. Keep the others and send them again."
        )


def error_code(exc: ClientError) -> str:
    """Return the AWS error code of ``exc``, or an empty string when the response has none."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def http_status(exc: ClientError) -> int:
    """Return the HTTP status of ``exc``, or 0 when the response has none."""
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def raise_if_configuration(exc: ClientError, resource: str) -> None:
    """Raise ``ConfigurationError`` from ``exc`` when its code means ``resource`` is unusable."""
    code = error_code(exc)
    if code in CONFIGURATION_CODES:
        raise ConfigurationError(
            f"AWS rejected the request to {resource} with {code}: "
            f"{exc.response.get('Error', {}).get('Message', 'no message')}. "
            "Check that it exists in this account and region and that the task role may use it."
        ) from exc


# Exceptions that opening or reading a store raises when the store, and not the
# code, is at fault: the store's own errors, botocore's errors before any request
# (no region, no credentials) and local file errors. Callers outside ``stores``
# catch these without importing botocore.
ACCESS_ERRORS: tuple[type[Exception], ...] = (StoreError, BotoCoreError, OSError)
