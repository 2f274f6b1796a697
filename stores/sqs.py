"""Forwarded events on an SQS queue, FIFO or standard.

A queue whose URL ends in ``.fifo`` gets ``MessageGroupId`` = conversation id
and ``MessageDeduplicationId`` = the message's ``deduplication_id``, so a
message sent twice within 5 minutes is delivered once. A standard queue gets
neither and may deliver a retried message twice.

``send`` packs messages into ``SendMessageBatch`` calls of at most 10 entries
and at most ``MaximumMessageSize`` bytes in all, sends a body too large for the
queue through S3 (see ``stores.messages`` for the pointer), and retries what
failed. A message SQS can never accept is reported, not retried, and never
holds back the rest.

NOTE: FIFO order within a group is kept except after a partial batch failure,
because a retried entry arrives after later entries of its batch that succeeded.
Consumers order a conversation's events by ``revision``.

Calls used: ``GetQueueAttributes`` (once, at construction), ``SendMessageBatch``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NoReturn

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from mypy_boto3_sqs import SQSClient
from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

from genesys_stream.clock import Clock
from stores.base import OutboundMessage, PayloadStore
from stores.errors import (
    ConfigurationError,
    DeliveryError,
    StoreError,
    error_code,
    raise_if_configuration,
)
from stores.messages import (
    DEFAULT_MAXIMUM_MESSAGE_SIZE,
    MAX_BATCH_ENTRIES,
    attributes_size,
    body_text,
    check_message,
    pointer_body,
)
from stores.retry import RetryPolicy, call_with_retries, describe, is_retryable

log = logging.getLogger(__name__)

# The smallest MaximumMessageSize a queue may have, in bytes.
_MIN_MESSAGE_SIZE = 1024


@dataclass(frozen=True)
class _Entry:
    """One message ready to send: its position in the ``send`` call, final body and size."""

    index: int
    message: OutboundMessage
    body: str
    size: int


class SqsEventQueue:
    """An ``EventQueue`` on one SQS queue.

    ``maximum_message_size`` in bytes; None reads the queue's
    ``MaximumMessageSize`` now, which also proves the queue exists and is
    readable (``ConfigurationError`` otherwise). Without ``payload_store``, a
    message too large for the queue is reported as permanently failed.
    """

    def __init__(
        self,
        client: SQSClient,
        queue_url: str,
        clock: Clock,
        payload_store: PayloadStore | None = None,
        *,
        maximum_message_size: int | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not queue_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"Queue URL {queue_url!r} is invalid; give the queue's https:// URL."
            )
        self._client = client
        self._url = queue_url
        self._clock = clock
        self._payloads = payload_store
        self._retry = retry or RetryPolicy()
        self.fifo = queue_url.endswith(".fifo")
        if maximum_message_size is not None and not (
            _MIN_MESSAGE_SIZE <= maximum_message_size <= DEFAULT_MAXIMUM_MESSAGE_SIZE
        ):
            raise ConfigurationError(
                f"maximum_message_size {maximum_message_size} is invalid; SQS allows "
                f"{_MIN_MESSAGE_SIZE} to {DEFAULT_MAXIMUM_MESSAGE_SIZE} bytes."
            )
        self.maximum_message_size = maximum_message_size or self._read_maximum_message_size()

    def send(self, messages: Sequence[OutboundMessage]) -> None:
        """Deliver every message; raise ``DeliveryError`` naming those that were not delivered.

        Blocks for up to the retry budget (``RetryPolicy.max_elapsed``) while SQS
        throttles or fails entries, waiting on the clock between rounds.
        """
        reasons: dict[int, str] = {}
        permanent: set[int] = set()
        pending = list(self._prepare(messages, reasons, permanent))

        budget = self._retry.start(self._clock)
        while pending:
            retry: list[_Entry] = []
            for batch in self._batches(pending):
                retry.extend(self._send_batch(batch, reasons, permanent))
            if not retry:
                break
            cause = reasons[retry[0].index]
            if not budget.wait(
                "sqs.send_message_batch", cause, queue=self._url, pending=len(retry)
            ):
                break
            pending = retry

        if reasons:
            self._raise_undelivered(messages, reasons, permanent)

    # Preparing messages

    def _prepare(
        self, messages: Sequence[OutboundMessage], reasons: dict[int, str], permanent: set[int]
    ) -> Iterator[_Entry]:
        """Yield each message ready to send, recording the ones that cannot be.

        A payload bucket that is missing or denied raises ``ConfigurationError``
        before anything is sent; other S3 failures fail only their message.
        """
        for index, message in enumerate(messages):
            try:
                yield self._entry(index, message)
            except ValueError as exc:
                reasons[index] = str(exc)
                permanent.add(index)
            except ConfigurationError:
                raise
            except StoreError as exc:
                reasons[index] = str(exc)

    def _entry(self, index: int, message: OutboundMessage) -> _Entry:
        check_message(message, self.fifo)
        body = body_text(message)
        extra = attributes_size(message.attributes)
        size = len(message.body) + extra
        if size <= self.maximum_message_size:
            return _Entry(index, message, body, size)

        if self._payloads is None:
            raise ValueError(
                f"The message is {size} bytes, above the queue's MaximumMessageSize of "
                f"{self.maximum_message_size}; configure a payload bucket for large messages."
            )
        pointer = self._payloads.put(message.conversation_id, message.body)
        body = pointer_body(message, pointer)
        size = len(body.encode()) + extra
        if size > self.maximum_message_size:
            raise ValueError(
                f"Even the S3 pointer is {size} bytes, above the queue's MaximumMessageSize of "
                f"{self.maximum_message_size}; shorten the message attributes."
            )
        log.info(
            "message.offloaded",
            extra={
                "conversation_id": message.conversation_id,
                "size": len(message.body),
                "s3_key": pointer.key,
            },
        )
        return _Entry(index, message, body, size)

    def _batches(self, entries: Sequence[_Entry]) -> Iterator[list[_Entry]]:
        """Yield entries in order, in batches of at most 10 and ``maximum_message_size`` bytes."""
        batch: list[_Entry] = []
        batch_size = 0
        for entry in entries:
            if batch and (
                len(batch) == MAX_BATCH_ENTRIES
                or batch_size + entry.size > self.maximum_message_size
            ):
                yield batch
                batch, batch_size = [], 0
            batch.append(entry)
            batch_size += entry.size
        if batch:
            yield batch

    # Sending

    def _send_batch(
        self, batch: list[_Entry], reasons: dict[int, str], permanent: set[int]
    ) -> list[_Entry]:
        """Send one batch and return the entries worth retrying; record every failure."""
        request = {f"m{position}": entry for position, entry in enumerate(batch)}
        try:
            response = self._client.send_message_batch(
                QueueUrl=self._url,
                Entries=[self._request_entry(key, entry) for key, entry in request.items()],
            )
        except ClientError as exc:
            raise_if_configuration(exc, f"SQS queue {self._url}")
            if is_retryable(exc):
                return self._failed(batch, describe(exc), reasons)
            if len(batch) > 1:
                # One bad entry can fail a whole request: send each alone to find it.
                retryable: list[_Entry] = []
                for entry in batch:
                    retryable.extend(self._send_batch([entry], reasons, permanent))
                return retryable
            self._reject(batch[0], _client_error_reason(exc), reasons, permanent)
            return []
        except (BotocoreConnectionError, HTTPClientError) as exc:
            return self._failed(batch, describe(exc), reasons)

        succeeded = {success["Id"] for success in response.get("Successful", [])}
        for key in succeeded:
            # Delivered now, whatever failed in an earlier round.
            reasons.pop(request[key].index, None)
        retry: list[_Entry] = []
        for failure in response.get("Failed", []):
            entry = request[failure["Id"]]
            reason = f"{failure.get('Code', 'unknown')}: {failure.get('Message', 'no message')}"
            if failure.get("SenderFault"):
                self._reject(entry, reason, reasons, permanent)
            else:
                retry.extend(self._failed([entry], reason, reasons))
        answered = succeeded | {failure["Id"] for failure in response.get("Failed", [])}
        missing = [entry for key, entry in request.items() if key not in answered]
        retry.extend(self._failed(missing, "the response did not mention the entry", reasons))
        return retry

    def _request_entry(self, key: str, entry: _Entry) -> SendMessageBatchRequestEntryTypeDef:
        request: SendMessageBatchRequestEntryTypeDef = {"Id": key, "MessageBody": entry.body}
        if entry.message.attributes:
            request["MessageAttributes"] = {
                name: {"DataType": "String", "StringValue": value}
                for name, value in entry.message.attributes.items()
            }
        if self.fifo:
            request["MessageGroupId"] = entry.message.conversation_id
            request["MessageDeduplicationId"] = entry.message.deduplication_id
        return request

    @staticmethod
    def _failed(entries: Sequence[_Entry], reason: str, reasons: dict[int, str]) -> list[_Entry]:
        for entry in entries:
            reasons[entry.index] = reason
        return list(entries)

    def _reject(
        self, entry: _Entry, reason: str, reasons: dict[int, str], permanent: set[int]
    ) -> None:
        reasons[entry.index] = reason
        permanent.add(entry.index)
        log.warning(
            "message.rejected",
            extra={
                "queue": self._url,
                "conversation_id": entry.message.conversation_id,
                "deduplication_id": entry.message.deduplication_id,
                "reason": reason,
            },
        )

    def _raise_undelivered(
        self, messages: Sequence[OutboundMessage], reasons: dict[int, str], permanent: set[int]
    ) -> NoReturn:
        failed = [messages[index] for index in sorted(reasons)]
        log.warning(
            "delivery.failed",
            extra={"queue": self._url, "failed": len(failed), "permanent": len(permanent)},
        )
        raise DeliveryError(
            failed,
            permanent=[messages[index] for index in sorted(permanent)],
            reasons={messages[index].deduplication_id: reason for index, reason in reasons.items()},
        )

    def _read_maximum_message_size(self) -> int:
        try:
            response = call_with_retries(
                "sqs.get_queue_attributes",
                lambda: self._client.get_queue_attributes(
                    QueueUrl=self._url, AttributeNames=["MaximumMessageSize"]
                ),
                self._clock,
                self._retry,
                queue=self._url,
            )
        except ClientError as exc:
            raise_if_configuration(exc, f"SQS queue {self._url}")
            raise
        except (BotocoreConnectionError, HTTPClientError) as exc:
            raise StoreError(
                f"SQS could not be reached ({type(exc).__name__}) to read the attributes of "
                f"{self._url}; check the network path and endpoint."
            ) from exc
        size = response.get("Attributes", {}).get("MaximumMessageSize")
        return int(size) if size else DEFAULT_MAXIMUM_MESSAGE_SIZE


def _client_error_reason(exc: ClientError) -> str:
    return f"{error_code(exc)}: {exc.response.get('Error', {}).get('Message', 'no message')}"
