"""The whole pipeline: simulator over loopback sockets to the local store and to AWS (moto)."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from genesys_stream.app import Stores
from genesys_stream.clock import FakeClock
from genesys_stream.verify import Comparison
from handlers.records import validate_message
from simulator import Simulator
from simulator.traffic import Scenario, TrafficConfig, generate
from stores.dynamodb import DynamoCheckpointStore, DynamoStateStore
from stores.local import read_events
from stores.sqs import SqsEventQueue
from tests.pipeline.harness import Pipeline, local_stores, running_pipeline

CONVERSATIONS = 200
# Every AWS call costs about 8 ms of CPU between botocore and moto in this one
# process (measured on a 2-core machine). 200 conversations make some 2,400
# calls, about 25 s, so the AWS run plays half as many through the same paths.
AWS_CONVERSATIONS = 100


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


def play(
    scenario: Scenario,
    simulator: Simulator,
    stores: Stores,
    clock: FakeClock,
    after_step: Callable[[Pipeline], None] = lambda pipeline: None,
) -> tuple[Comparison, dict[str, float]]:
    """Run the scenario to its end in 5 s steps, calling ``after_step`` after each."""
    topics = tuple(scenario.truth.queue_topics())
    with running_pipeline(simulator, clock, stores, topics) as pipeline:
        simulator.load(scenario)
        end = scenario.emissions[-1].at + 10
        while clock.time() < end:
            pipeline.step(5.0)
            after_step(pipeline)
        comparison = pipeline.compare(scenario)
    # Stopping flushed whatever was left.
    after_step(pipeline)
    return comparison, pipeline.totals()


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
    scenario = busy_scenario(clock, AWS_CONVERSATIONS)
    table = dynamodb_table(ttl_attribute="expiresAt")
    control = dynamodb_table(hash_key="pk")
    queue_url = sqs_queue(fifo=True)
    stores = Stores(
        states=DynamoStateStore(dynamodb_client, table, clock),
        queue=SqsEventQueue(sqs_client, queue_url, clock),
        checkpoints=DynamoCheckpointStore(dynamodb_client, control, clock),
        spill_path=tmp_path / "spill.jsonl",
    )

    reader = QueueReader(sqs_client, queue_url)

    # moto 5 scans every stored message of a FIFO queue on each send, so a full
    # queue makes the run quadratic. Receiving after each step keeps it short.
    comparison, totals = play(scenario, simulator, stores, clock, reader.catch_up)

    assert comparison.missing == []
    assert comparison.differing == []
    assert len(comparison.matched) == AWS_CONVERSATIONS
    assert len(reader.bodies) == totals["EventsForwarded"]
    for body in reader.bodies:
        assert validate_message(body) == []


class QueueReader:
    """Receives and deletes the messages of one queue, keeping their bodies."""

    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self.sqs_client = sqs_client
        self.queue_url = queue_url
        self.bodies: list[dict[str, Any]] = []

    def catch_up(self, pipeline: Pipeline) -> None:
        """Receive until every message forwarded so far is read, or the queue is empty."""
        while len(self.bodies) < pipeline.totals()["EventsForwarded"]:
            if not self.receive():
                return

    def receive(self) -> int:
        """Receive and delete up to 10 messages; moto returns at once when there are none."""
        response = self.sqs_client.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        self.bodies.extend(orjson.loads(message["Body"]) for message in messages)
        self.sqs_client.delete_message_batch(
            QueueUrl=self.queue_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(messages)
            ],
        )
        return len(messages)
