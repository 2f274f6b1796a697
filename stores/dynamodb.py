"""Conversation state and checkpoints in DynamoDB.

Conversations table: hash key ``conversationId`` (S), one item per conversation,
TTL attribute ``expiresAt`` (epoch seconds). Every write is a conditional
``PutItem`` on ``revision``, so of two writers the one that read the latest
revision wins and the other gets ``RevisionConflict`` with the stored record to
merge into. Large items are compressed or trimmed first (``stores.items``).

Control table: hash key ``pk`` (S). A checkpoint is the item
``{"pk": "checkpoint#<shard>", "epochSeconds": N, "updatedAt": N}``.

Calls used: ``GetItem``, ``PutItem``, ``Scan``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar, cast

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from mypy_boto3_dynamodb import DynamoDBClient

from genesys_stream.clock import Clock
from stores.base import RevisionConflict, StateRecord
from stores.errors import (
    ConfigurationError,
    StateWriteError,
    StoreError,
    error_code,
    raise_if_configuration,
)
from stores.items import (
    ItemTooLargeError,
    checked_item,
    decode_item,
    encode_item,
    record_from_item,
)
from stores.retry import RetryPolicy, call_with_retries, is_retryable

log = logging.getLogger(__name__)

T = TypeVar("T")

_CONDITION_FAILED = "ConditionalCheckFailedException"
# Items per Scan page; a page is also capped at 1 MB by DynamoDB.
_SCAN_PAGE = 100


class DynamoStateStore:
    """A ``StateStore`` on the conversations table.

    Reads are strongly consistent, so a writer that reloads after a conflict
    reads the write that won. Throttling, 5xx and connection failures are
    retried within ``retry``; after that a write raises ``StateWriteError`` and
    a read ``StoreError``.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        clock: Clock,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not table_name:
            raise ConfigurationError("The conversations table name is empty; set the table name.")
        self._client = client
        self._table = table_name
        self._clock = clock
        self._retry = retry or RetryPolicy()

    def load(self, conversation_id: str) -> StateRecord | None:
        """Return the stored state of ``conversation_id``, decompressed, or None."""
        response = self._call(
            "dynamodb.get_item",
            lambda: self._client.get_item(
                TableName=self._table,
                Key={"conversationId": {"S": conversation_id}},
                ConsistentRead=True,
            ),
            conversation_id,
        )
        stored = response.get("Item")
        return record_from_item(decode_item(stored)) if stored else None

    def save(self, record: StateRecord, expected_revision: int | None) -> None:
        """Write ``record`` if the stored revision is ``expected_revision`` (None: not stored).

        Raises ``RevisionConflict`` carrying the stored record otherwise,
        ``StateWriteError`` when DynamoDB keeps failing or rejects the item, and
        ``ValueError`` for a record that does not move the revision forward.
        """
        item = checked_item(record, expected_revision)
        try:
            attribute_values = encode_item(item)
        except (ItemTooLargeError, ValueError) as exc:
            raise StateWriteError(str(exc), conversation_id=record.conversation_id) from exc

        if expected_revision is None:
            # The conversation must not be stored yet.
            condition: dict[str, Any] = {
                "ConditionExpression": "attribute_not_exists(#conversationId)",
                "ExpressionAttributeNames": {"#conversationId": "conversationId"},
            }
        else:
            # The stored revision is still the one this write was merged from.
            condition = {
                "ConditionExpression": "#revision = :expected",
                "ExpressionAttributeNames": {"#revision": "revision"},
                "ExpressionAttributeValues": {":expected": {"N": str(expected_revision)}},
            }

        try:
            self._call(
                "dynamodb.put_item",
                lambda: self._client.put_item(
                    TableName=self._table,
                    Item=attribute_values,
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    **condition,
                ),
                record.conversation_id,
            )
        except ClientError as exc:
            if error_code(exc) != _CONDITION_FAILED:
                raise
            stored = cast("dict[str, Any] | None", exc.response.get("Item"))
            if stored is not None:
                current: StateRecord | None = record_from_item(decode_item(stored))
            elif expected_revision is None:
                # The item exists, yet the response lacks it; read it.
                current = self.load(record.conversation_id)
            else:
                # ALL_OLD returns nothing when no item is stored.
                current = None
            if current is not None and current.item == decode_item(attribute_values):
                # A retried request whose first attempt had already been written.
                return
            raise RevisionConflict(record.conversation_id, expected_revision, current) from exc
        log.debug(
            "state.saved",
            extra={"conversation_id": record.conversation_id, "revision": record.revision},
        )

    def list(self, limit: int = 100) -> list[StateRecord]:
        """Return up to ``limit`` stored conversations, in no particular order."""
        if limit < 0:
            raise ValueError(f"limit must be 0 or more, got {limit}.")
        records: list[StateRecord] = []
        start_key: dict[str, Any] | None = None
        while len(records) < limit:
            page: dict[str, Any] = {
                "TableName": self._table,
                "Limit": min(_SCAN_PAGE, limit - len(records)),
                "ConsistentRead": True,
            }
            if start_key:
                page["ExclusiveStartKey"] = start_key
            response = self._scan(page)
            for stored in response.get("Items", []):
                records.append(record_from_item(decode_item(stored)))
            start_key = response.get("LastEvaluatedKey")
            if not start_key:
                break
        return records[:limit]

    def _scan(self, page: dict[str, Any]) -> Any:
        return self._call("dynamodb.scan", lambda: self._client.scan(**page), None)

    def _call(self, operation: str, call: Callable[[], T], conversation_id: str | None) -> T:
        return _call_dynamodb(
            operation, call, self._clock, self._retry, self._table, conversation_id
        )


class DynamoCheckpointStore:
    """A ``CheckpointStore`` on the control table.

    Checkpoints only move forward: a put older than the stored checkpoint is
    ignored, so a stale owner of a shard never moves it back past events it
    did not see.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        clock: Clock,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not table_name:
            raise ConfigurationError("The control table name is empty; set the table name.")
        self._client = client
        self._table = table_name
        self._clock = clock
        self._retry = retry or RetryPolicy()

    def get_checkpoint(self, shard: str) -> float | None:
        """Return the checkpoint of ``shard`` in epoch seconds, or None."""
        response = _call_dynamodb(
            "dynamodb.get_item",
            lambda: self._client.get_item(
                TableName=self._table,
                Key={"pk": {"S": _checkpoint_key(shard)}},
                ConsistentRead=True,
            ),
            self._clock,
            self._retry,
            self._table,
            None,
        )
        stored = response.get("Item", {}).get("epochSeconds")
        return float(stored["N"]) if stored and "N" in stored else None

    def put_checkpoint(self, shard: str, epoch_seconds: float) -> None:
        """Store ``epoch_seconds`` as the checkpoint of ``shard`` unless a later one is stored."""
        epoch = {"N": str(Decimal(repr(float(epoch_seconds))))}
        try:
            _call_dynamodb(
                "dynamodb.put_item",
                lambda: self._client.put_item(
                    TableName=self._table,
                    Item={
                        "pk": {"S": _checkpoint_key(shard)},
                        "epochSeconds": epoch,
                        "updatedAt": {"N": str(int(self._clock.time()))},
                    },
                    # New, or not later than this one: checkpoints never move back.
                    ConditionExpression=(
                        "attribute_not_exists(#pk) OR #epochSeconds <= :epochSeconds"
                    ),
                    ExpressionAttributeNames={"#pk": "pk", "#epochSeconds": "epochSeconds"},
                    ExpressionAttributeValues={":epochSeconds": epoch},
                ),
                self._clock,
                self._retry,
                self._table,
                None,
            )
        except ClientError as exc:
            if error_code(exc) != _CONDITION_FAILED:
                raise
            log.debug(
                "checkpoint.kept_later", extra={"shard": shard, "epoch_seconds": epoch_seconds}
            )


def _call_dynamodb(
    operation: str,
    call: Callable[[], T],
    clock: Clock,
    retry: RetryPolicy,
    table: str,
    conversation_id: str | None,
) -> T:
    """Return ``call()`` with retries, translating AWS errors into store errors.

    A failed write raises ``StateWriteError``, a failed read ``StoreError``. A
    conditional check failure is re-raised as it is, for the caller to handle.
    """
    fields: dict[str, object] = {"table": table}
    if conversation_id is not None:
        fields["conversation_id"] = conversation_id
    try:
        return call_with_retries(operation, call, clock, retry, **fields)
    except ClientError as exc:
        raise_if_configuration(exc, f"DynamoDB table {table}")
        if is_retryable(exc):
            message = (
                f"DynamoDB kept failing with {error_code(exc)} on {operation} for table "
                f"{table} past the retry budget; try again later."
            )
        elif error_code(exc) == "ValidationException":
            message = (
                f"DynamoDB rejected {operation} on table {table} as invalid: "
                f"{exc.response.get('Error', {}).get('Message', 'no message')}."
            )
        else:
            raise
        raise _failure(operation, message, conversation_id) from exc
    except (BotocoreConnectionError, HTTPClientError) as exc:
        message = (
            f"DynamoDB could not be reached ({type(exc).__name__}) on {operation} for "
            f"table {table} past the retry budget; check the network path and endpoint."
        )
        raise _failure(operation, message, conversation_id) from exc


def _failure(operation: str, message: str, conversation_id: str | None) -> StoreError:
    if operation.endswith("put_item"):
        return StateWriteError(message, conversation_id=conversation_id)
    return StoreError(message)


def _checkpoint_key(shard: str) -> str:
    if not shard:
        raise ValueError("A checkpoint needs a shard name; got an empty one.")
    return f"checkpoint#{shard}"
