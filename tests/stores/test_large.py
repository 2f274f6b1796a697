"""A conversation too big for the queue and near the DynamoDB item limit, on moto."""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from genesys_stream.clock import FakeClock
from stores.base import OutboundMessage, StateRecord
from stores.dynamodb import DynamoStateStore
from stores.errors import DeliveryError
from stores.items import DYNAMODB_ITEM_LIMIT, item_size
from stores.messages import POINTER_SCHEMA
from stores.s3 import S3PayloadStore
from stores.sqs import SqsEventQueue

QUEUE_LIMIT = 262_144


def big_conversation(compressible: bool) -> dict[str, Any]:
    """Return a conversation of 40 participants whose attributes make it over 450 KB of JSON."""
    rng = random.Random(17)
    people = []
    for number in range(40):
        if compressible:
            attributes = {
                f"crm.field{field}": f"account {number} note {field}: customer asked about billing"
                for field in range(180)
            }
        else:
            attributes = {"blob": base64.b64encode(rng.randbytes(11_000)).decode()}
        people.append({"id": f"p-{number:02}", "purpose": "agent", "attributes": attributes})
    return {
        "conversationId": "c-big",
        "revision": 1,
        "state": "active",
        "participants": people,
        "expiresAt": 1_769_817_600,
    }


def event_for(conversation: dict[str, Any]) -> OutboundMessage:
    body = orjson.dumps(
        {
            "schema": "genesys-stream.event/1",
            "type": "conversation.updated",
            "conversationId": conversation["conversationId"],
            "state": conversation,
        }
    )
    return OutboundMessage(
        conversation_id=conversation["conversationId"],
        event_type="conversation.updated",
        body=body,
        deduplication_id=hashlib.sha256(body).hexdigest(),
        attributes={"type": "conversation.updated", "conversationId": "c-big"},
    )


@pytest.mark.parametrize("compressible", [True, False])
def test_big_message_goes_through_s3(
    compressible: bool,
    sqs_client: Any,
    s3_client: Any,
    sqs_queue: Callable[..., str],
    s3_bucket: Callable[[], str],
    receive: Callable[[Any, str], list[Any]],
) -> None:
    clock = FakeClock()
    bucket = s3_bucket()
    url = sqs_queue(maximum_message_size=QUEUE_LIMIT)
    queue = SqsEventQueue(sqs_client, url, clock, S3PayloadStore(s3_client, bucket, clock))
    message = event_for(big_conversation(compressible))

    queue.send([message])

    (delivered,) = receive(sqs_client, url)
    pointer = orjson.loads(delivered.body)
    stored = s3_client.get_object(Bucket=bucket, Key=pointer["payload"]["s3Key"])["Body"].read()
    assert len(message.body) > 450_000
    assert queue.maximum_message_size == QUEUE_LIMIT
    assert pointer["schema"] == POINTER_SCHEMA
    assert pointer["type"] == "conversation.updated"
    assert pointer["conversationId"] == "c-big"
    assert pointer["payload"]["s3Bucket"] == bucket
    assert pointer["payload"]["size"] == len(message.body)
    assert pointer["payload"]["sha256"] == hashlib.sha256(message.body).hexdigest()
    assert stored == message.body
    assert delivered.attributes == message.attributes
    assert delivered.deduplication_id == message.deduplication_id


def test_big_message_without_payload_store(
    sqs_client: Any, sqs_queue: Callable[..., str], receive: Callable[[Any, str], list[Any]]
) -> None:
    url = sqs_queue(maximum_message_size=QUEUE_LIMIT)
    queue = SqsEventQueue(sqs_client, url, FakeClock())
    message = event_for(big_conversation(compressible=True))

    with pytest.raises(DeliveryError) as raised:
        queue.send([message])

    assert raised.value.permanent == [message]
    assert "payload bucket" in raised.value.reasons[message.deduplication_id]
    assert receive(sqs_client, url) == []


def test_big_item_compressed_in_dynamodb(
    dynamodb_client: Any, dynamodb_table: Callable[..., str]
) -> None:
    table = dynamodb_table()
    store = DynamoStateStore(dynamodb_client, table, FakeClock())
    conversation = big_conversation(compressible=True)

    store.save(StateRecord("c-big", 1, conversation), expected_revision=None)

    raw = dynamodb_client.get_item(TableName=table, Key={"conversationId": {"S": "c-big"}})["Item"]
    loaded = store.load("c-big")
    assert len(orjson.dumps(conversation)) > 450_000
    assert item_size(raw) < DYNAMODB_ITEM_LIMIT
    assert raw["compressed"] == {"BOOL": True}
    assert "participants" not in raw
    assert "trimmed" not in raw
    assert loaded is not None
    assert loaded.item == conversation


def test_big_item_trimmed_in_dynamodb(
    dynamodb_client: Any, dynamodb_table: Callable[..., str]
) -> None:
    table = dynamodb_table()
    store = DynamoStateStore(dynamodb_client, table, FakeClock())
    conversation = big_conversation(compressible=False)
    conversation["participants"].extend(big_conversation(False)["participants"][:10])
    for number, person in enumerate(conversation["participants"]):
        person["id"] = f"p-{number:02}"

    store.save(StateRecord("c-big", 1, conversation), expected_revision=None)

    raw = dynamodb_client.get_item(TableName=table, Key={"conversationId": {"S": "c-big"}})["Item"]
    loaded = store.load("c-big")
    assert item_size(raw) < DYNAMODB_ITEM_LIMIT
    assert raw["trimmed"] == {"BOOL": True}
    assert loaded is not None
    assert loaded.item["trimmed"] is True
    assert len(loaded.item["participants"]) == 50
    assert [p["id"] for p in loaded.item["participants"]] == [f"p-{n:02}" for n in range(50)]
    assert loaded.item["trimmedParticipants"]
