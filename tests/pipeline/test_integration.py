"""The whole pipeline: simulator over loopback sockets to the local store and to AWS (moto)."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from genesys_stream.app import Stores
from genesys_stream.clock import FakeClock
from handlers.records import validate_message
from simulator import Simulator
from simulator.traffic import Scenario, TrafficConfig, generate
from stores.dynamodb import DynamoCheckpointStore, DynamoStateStore
from stores.local import read_events
from stores.sqs import SqsEventQueue
from tests.pipeline.harness import local_stores, running_pipeline

CONVERSATIONS = 200


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def simulator(clock: FakeClock) -> Iterator[Simulator]:
    with Simulator(clock=clock) as sim:
        yield sim


def busy_scenario(clock: FakeClock, conversations: int = CONVERSATIONS) -> Scenario:
    return generate(
        TrafficConfig(
            conversations=conversations,
            start=clock.time() + 5,
            duration=600,
            seed=11,
            duplicate_rate=0.2,
            reorder_rate=0.2,
        )
    )


def play(scenario: Scenario, simulator: Simulator, stores: Stores, clock: FakeClock) -> Any:
    topics = tuple(scenario.truth.queue_topics())
    with running_pipeline(simulator, clock, stores, topics) as pipeline:
        simulator.load(scenario)
        pipeline.run_for(scenario.emissions[-1].at - clock.time() + 10, step=5.0)
        comparison = pipeline.compare(scenario)
        totals = pipeline.totals()
    return comparison, totals


def test_local_store_matches_truth(simulator: Simulator, clock: FakeClock, tmp_path: Path) -> None:
    scenario = busy_scenario(clock)
    stores = local_stores(tmp_path, clock)

    comparison, totals = play(scenario, simulator, stores, clock)

    assert comparison.missing == []
    assert comparison.differing == []
    assert len(comparison.matched) == CONVERSATIONS
    events = read_events(tmp_path / "events.jsonl")
    assert len(events) == totals["EventsForwarded"]
    for event in events:
        assert validate_message(orjson.loads(event["body"])) == []


def test_aws_stores_match_truth(
    simulator: Simulator,
    clock: FakeClock,
    dynamodb_client: Any,
    sqs_client: Any,
    dynamodb_table: Callable[..., str],
    sqs_queue: Callable[..., str],
    tmp_path: Path,
) -> None:
    scenario = busy_scenario(clock, conversations=60)
    table = dynamodb_table(ttl_attribute="expiresAt")
    control = dynamodb_table(hash_key="pk")
    queue_url = sqs_queue(fifo=True)
    stores = Stores(
        states=DynamoStateStore(dynamodb_client, table, clock),
        queue=SqsEventQueue(sqs_client, queue_url, clock),
        checkpoints=DynamoCheckpointStore(dynamodb_client, control, clock),
        spill_path=tmp_path / "spill.jsonl",
    )

    comparison, totals = play(scenario, simulator, stores, clock)

    assert comparison.missing == []
    assert comparison.differing == []
    bodies = drain_queue(sqs_client, queue_url)
    assert len(bodies) == totals["EventsForwarded"]
    for body in bodies:
        assert validate_message(body) == []


def drain_queue(sqs_client: Any, queue_url: str) -> list[dict[str, Any]]:
    """Receive and delete every message; moto answers at once when the queue is empty."""
    bodies: list[dict[str, Any]] = []
    while True:
        response = sqs_client.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        messages = response.get("Messages", [])
        if not messages:
            return bodies
        bodies.extend(orjson.loads(message["Body"]) for message in messages)
        sqs_client.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(messages)
            ],
        )
