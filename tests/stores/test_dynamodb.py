"""DynamoDB request shapes and item layout, on moto."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from genesys_stream.clock import FakeClock
from stores.base import RevisionConflict, StateRecord
from stores.dynamodb import DynamoCheckpointStore, DynamoStateStore


def capture_requests(client: Any, operation: str) -> list[dict[str, Any]]:
    """Return a list that fills with the parameters of every ``operation`` call."""
    requests: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        requests.append(dict(params))

    client.meta.events.register(f"before-parameter-build.dynamodb.{operation}", record)
    return requests


def placeholders(expression: str, sigil: str) -> set[str]:
    return set(re.findall(re.escape(sigil) + r"\w+", expression))


def test_conditions_use_every_placeholder(
    dynamodb_client: Any, dynamodb_table: Callable[..., str]
) -> None:
    """AWS rejects unused expression names and values, although moto accepts them."""
    store = DynamoStateStore(dynamodb_client, dynamodb_table(), FakeClock())
    requests = capture_requests(dynamodb_client, "PutItem")

    store.save(StateRecord("c-1", 1, {"state": "active"}), None)
    store.save(StateRecord("c-1", 2, {"state": "ended"}), 1)

    create, update = requests
    assert create["ConditionExpression"] == "attribute_not_exists(#conversationId)"
    assert "ExpressionAttributeValues" not in create
    assert update["ConditionExpression"] == "#revision = :expected"
    for request in requests:
        expression = request["ConditionExpression"]
        names = set(request.get("ExpressionAttributeNames", {}))
        values = set(request.get("ExpressionAttributeValues", {}))
        assert names == placeholders(expression, "#")
        assert values == placeholders(expression, ":")


def test_checkpoint_condition_uses_every_placeholder(
    dynamodb_client: Any, dynamodb_table: Callable[..., str]
) -> None:
    store = DynamoCheckpointStore(dynamodb_client, dynamodb_table(hash_key="pk"), FakeClock())
    requests = capture_requests(dynamodb_client, "PutItem")

    store.put_checkpoint("stream", 1.5)

    (request,) = requests
    expression = request["ConditionExpression"]
    assert set(request["ExpressionAttributeNames"]) == placeholders(expression, "#")
    assert set(request["ExpressionAttributeValues"]) == placeholders(expression, ":")


def test_item_layout(dynamodb_client: Any, dynamodb_table: Callable[..., str]) -> None:
    table = dynamodb_table(ttl_attribute="expiresAt")
    store = DynamoStateStore(dynamodb_client, table, FakeClock())
    item = {"state": "ended", "expiresAt": 1_769_817_600, "participants": [{"id": "p1"}]}

    store.save(StateRecord("c-1", 3, item), None)

    raw = dynamodb_client.get_item(TableName=table, Key={"conversationId": {"S": "c-1"}})["Item"]
    assert raw["conversationId"] == {"S": "c-1"}
    assert raw["revision"] == {"N": "3"}
    assert raw["expiresAt"] == {"N": "1769817600"}
    assert raw["participants"] == {"L": [{"M": {"id": {"S": "p1"}}}]}


def test_checkpoint_layout(dynamodb_client: Any, dynamodb_table: Callable[..., str]) -> None:
    table = dynamodb_table(hash_key="pk")
    clock = FakeClock(start=1_767_225_600.0)
    store = DynamoCheckpointStore(dynamodb_client, table, clock)

    store.put_checkpoint("shard-3", 1_767_225_000.25)

    raw = dynamodb_client.get_item(TableName=table, Key={"pk": {"S": "checkpoint#shard-3"}})
    assert raw["Item"]["epochSeconds"] == {"N": "1767225000.25"}
    assert raw["Item"]["updatedAt"] == {"N": "1767225600"}


def test_list_pages_through_scan(dynamodb_client: Any, dynamodb_table: Callable[..., str]) -> None:
    store = DynamoStateStore(dynamodb_client, dynamodb_table(), FakeClock())
    requests = capture_requests(dynamodb_client, "Scan")
    for number in range(130):
        store.save(StateRecord(f"c-{number:03}", 1, {"state": "active"}), None)

    everything = store.list(limit=1000)
    some = store.list(limit=120)

    assert len({record.conversation_id for record in everything}) == 130
    assert len(some) == 120
    assert len(requests) >= 4
    assert all(request["Limit"] <= 100 for request in requests)


def test_list_rejects_negative_limit(
    dynamodb_client: Any, dynamodb_table: Callable[..., str]
) -> None:
    store = DynamoStateStore(dynamodb_client, dynamodb_table(), FakeClock())

    with pytest.raises(ValueError, match="-1"):
        store.list(limit=-1)


def test_conflict_on_missing_item_reads_nothing(
    dynamodb_client: Any, dynamodb_table: Callable[..., str], faults: Any
) -> None:
    store = DynamoStateStore(dynamodb_client, dynamodb_table(), FakeClock())
    faults.count(dynamodb_client, "dynamodb", "GetItem")

    with pytest.raises(RevisionConflict) as raised:
        store.save(StateRecord("c-1", 2, {"state": "active"}), 1)

    assert raised.value.current is None
    assert faults.calls.get("GetItem", 0) == 0
