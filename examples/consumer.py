"""A consumer of genesys-stream's queue: read each event, fetch the conversation, delete.

Run it next to a deployed service::

    CONSUMER_QUEUE_URL=https://sqs.eu-west-1.amazonaws.com/123456789012/genesys-stream.fifo \
    CONSUMER_TABLE_NAME=genesys-stream-conversations \
    python examples/consumer.py

boto3 finds the region and credentials the usual way (``AWS_REGION``,
``AWS_PROFILE``, an instance or task role), and ``AWS_ENDPOINT_URL`` points it
at an emulator. The consumer needs ``sqs:ReceiveMessage``,
``sqs:DeleteMessage``, ``dynamodb:GetItem`` on the table and ``s3:GetObject``
on the payload bucket.

Each message is one lifecycle event (``schema`` ``genesys-stream.event/1``). A
body too large for the queue arrives as a pointer (``genesys-stream.pointer/1``)
to an S3 object that contains the original body. A message is deleted only
after ``handle`` returns, so one that fails comes back after the queue's
visibility timeout.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.types import TypeDeserializer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

EVENT_SCHEMA = "genesys-stream.event/1"
POINTER_SCHEMA = "genesys-stream.pointer/1"
# Seconds a receive waits for a message: SQS long polling allows up to 20.
WAIT_SECONDS = 20

Handler = Callable[[dict[str, Any], dict[str, Any] | None], None]


class PayloadError(Exception):
    """An S3 payload that does not match the checksum in its pointer."""


def read_event(s3: S3Client, body: str) -> dict[str, Any]:
    """Return the event of one message body, fetching it from S3 when the body is a pointer."""
    document: dict[str, Any] = json.loads(body)
    if document.get("schema") != POINTER_SCHEMA:
        return document

    payload = document["payload"]
    response = s3.get_object(Bucket=payload["s3Bucket"], Key=payload["s3Key"])
    data = response["Body"].read()
    if hashlib.sha256(data).hexdigest() != payload["sha256"]:
        raise PayloadError(
            f"s3://{payload['s3Bucket']}/{payload['s3Key']} does not match the SHA-256 "
            "in its pointer; it was changed or is incomplete."
        )
    event: dict[str, Any] = json.loads(data)
    return event


def load_state(dynamodb: DynamoDBClient, table: str, conversation_id: str) -> dict[str, Any] | None:
    """Return the stored state of one conversation as plain JSON values, or None."""
    response = dynamodb.get_item(
        TableName=table, Key={"conversationId": {"S": conversation_id}}, ConsistentRead=True
    )
    stored = response.get("Item")
    if stored is None:
        return None

    deserializer = TypeDeserializer()
    item: dict[str, Any] = {name: deserializer.deserialize(value) for name, value in stored.items()}
    # Large items keep their participants gzip-compressed in one binary attribute.
    if "participantsGz" in item:
        item["participants"] = json.loads(gzip.decompress(bytes(item.pop("participantsGz"))))
    return item


def consume_once(
    sqs: SQSClient,
    s3: S3Client,
    dynamodb: DynamoDBClient,
    queue_url: str,
    table: str,
    handle: Handler,
    wait_seconds: int = WAIT_SECONDS,
) -> int:
    """Receive up to 10 messages, pass each with its conversation to ``handle``, delete it.

    Returns the number of messages handled and deleted.
    """
    response = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
    )
    handled = 0
    for message in response.get("Messages", []):
        event = read_event(s3, message["Body"])
        state = load_state(dynamodb, table, event["conversationId"])
        handle(event, state)
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        handled += 1
    return handled


def print_event(event: dict[str, Any], state: dict[str, Any] | None) -> None:
    """Print one line per event: type, conversation, revision, and the stored state."""
    stored = "not stored" if state is None else f"{state['state']} at revision {state['revision']}"
    print(
        f"{event['type']} {event['conversationId']} revision {event['revision']}: {stored}",
        flush=True,
    )


def main() -> int:
    queue_url = os.environ.get("CONSUMER_QUEUE_URL")
    table = os.environ.get("CONSUMER_TABLE_NAME")
    if not queue_url or not table:
        print(
            "consumer: set CONSUMER_QUEUE_URL to the queue URL and CONSUMER_TABLE_NAME to "
            "the conversations table (the service's STREAM_QUEUE_URL and STREAM_TABLE_NAME).",
            file=sys.stderr,
        )
        return 2

    session = boto3.Session()
    sqs = session.client("sqs")
    s3 = session.client("s3")
    dynamodb = session.client("dynamodb")
    try:
        while True:
            consume_once(sqs, s3, dynamodb, queue_url, table, print_event)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
