"""The example consumer in examples/consumer.py, against the service's own stores on moto."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from examples.consumer import consume_once
from genesys_stream.clock import FakeClock
from handlers.merge import merge
from handlers.normalize import from_snapshot
from handlers.records import encode_message, encode_state
from stores.dynamodb import DynamoStateStore
from stores.s3 import S3PayloadStore
from stores.sqs import SqsEventQueue

SAMPLE = Path(__file__).parent / "samples" / "conversation-user-topic-callback-connected.json"


def test_consumer_reads_events_and_states(
    dynamodb_client: Any,
    sqs_client: Any,
    s3_client: Any,
    dynamodb_table: Callable[..., str],
    sqs_queue: Callable[..., str],
    s3_bucket: Callable[[], str],
) -> None:
    """Every message handled with its stored state, a large one through S3, then deleted."""
    clock = FakeClock()
    table = dynamodb_table(ttl_attribute="expiresAt")
    queue_url = sqs_queue(fifo=True)
    bucket = s3_bucket()
    observation = from_snapshot(orjson.loads(SAMPLE.read_bytes())["eventBody"], clock.time())
    result = merge(None, observation)
    DynamoStateStore(dynamodb_client, table, clock).save(
        encode_state(result.state, clock.time(), 86400), expected_revision=None
    )
    sent = [
        encode_message(event, result.state, observation, clock.time()) for event in result.events
    ]
    # Bodies are about 5 KB, so a 4 KiB queue limit sends the larger ones through S3.
    queue = SqsEventQueue(
        sqs_client,
        queue_url,
        clock,
        S3PayloadStore(s3_client, bucket, clock),
        maximum_message_size=4096,
    )
    queue.send(sent)
    handled: list[tuple[dict[str, Any], dict[str, Any] | None]] = []

    count = 0
    while batch := consume_once(
        sqs_client,
        s3_client,
        dynamodb_client,
        queue_url,
        table,
        lambda event, state: handled.append((event, state)),
        wait_seconds=0,
    ):
        count += batch
    offloaded = s3_client.list_objects_v2(Bucket=bucket).get("Contents", [])
    left = sqs_client.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0)

    assert count == len(sent)
    assert offloaded
    assert sorted(orjson.dumps(event) for event, _ in handled) == sorted(
        orjson.dumps(orjson.loads(message.body)) for message in sent
    )
    for event, state in handled:
        assert state is not None
        assert state["conversationId"] == event["conversationId"]
        assert state["revision"] == event["revision"]
        assert len(state["participants"]) == 5
    assert left.get("Messages", []) == []
