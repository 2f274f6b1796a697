"""SinkActor delivery: nothing lost while the queue is down, poison messages set aside."""

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pykka
import pytest

from actors.merge import MergeActor
from actors.messages import Drain, Flush, Observe, ask
from actors.sink import SinkActor
from genesys_stream.clock import FakeClock
from genesys_stream.metrics import Metrics
from handlers.frames import DetailFrame, SnapshotFrame, parse_document
from handlers.normalize import Observation, from_frame
from simulator.traffic import TrafficConfig, generate
from stores.base import OutboundMessage
from stores.errors import ConfigurationError, DeliveryError
from stores.local import LocalEventQueue, LocalStateStore, read_events

WAIT = 10.0


class UnreliableQueue:
    """The local queue behind a switch: while ``failure`` is set, every send raises it.

    A fault-injecting wrapper at the EventQueue seam, because the local queue
    itself never fails.
    """

    def __init__(self, queue: LocalEventQueue) -> None:
        self.queue = queue
        self.failure: Exception | None = None
        self.poison: set[str] = set()
        self.calls = 0

    def send(self, messages: Sequence[OutboundMessage]) -> None:
        self.calls += 1
        if isinstance(self.failure, DeliveryError):
            raise DeliveryError(messages)
        if self.failure is not None:
            raise self.failure
        poison = [message for message in messages if message.conversation_id in self.poison]
        self.queue.send([message for message in messages if message not in poison])
        if poison:
            raise DeliveryError(poison, permanent=poison)


def observations(conversations: int) -> list[Observation]:
    scenario = generate(TrafficConfig(conversations=conversations, seed=5, detail_events=False))
    result = []
    for emission in scenario.emissions:
        frame = parse_document(emission.frame(), emission.at)
        assert isinstance(frame, SnapshotFrame | DetailFrame)
        result.append(from_frame(frame))
    return result


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[tuple[Any, Any, UnreliableQueue]]:
    clock = FakeClock()
    metrics = Metrics()
    queue = UnreliableQueue(LocalEventQueue(tmp_path / "events.jsonl", clock))
    merges: list[pykka.ActorRef[Any]] = []
    sink = SinkActor.start(
        states=LocalStateStore(tmp_path / "state.sqlite3"),
        queue=queue,
        checkpoints=None,
        clock=clock,
        metrics=metrics,
        merges=merges,
        flush_interval=3600.0,
        max_outbox=50,
        spill_path=tmp_path / "spill.jsonl",
    )
    merge = MergeActor.start(
        shard=0, sink=sink, metrics=metrics, forward_events={"conversation.updated"}
    )
    merges.append(merge)
    yield merge, sink, queue
    pykka.ActorRegistry.stop_all(block=True, timeout=WAIT)


def feed(merge: Any, items: list[Observation]) -> None:
    for observation in items:
        merge.tell(Observe(observation))
    ask(merge, Drain(), WAIT)


def test_sink_spills_while_queue_down(
    pipeline: tuple[Any, Any, UnreliableQueue], tmp_path: Path
) -> None:
    merge, sink, queue = pipeline
    queue.failure = DeliveryError([])

    feed(merge, observations(40))
    down = ask(sink, Flush(), WAIT)
    again = ask(sink, Flush(), WAIT)
    queue.failure = None
    backlog = ask(sink, Flush(), WAIT)
    while backlog["messages"] or backlog["spilled"]:
        backlog = ask(sink, Flush(), WAIT)
    stats = ask(sink, "stats", WAIT)

    assert down["spilled"] > 0
    assert down["messages"] <= 50
    assert again["messages"] <= 50
    assert backlog == {"states": 0, "messages": 0, "spilled": 0}
    delivered = read_events(tmp_path / "events.jsonl")
    assert len(delivered) == stats["forwarded"]
    assert len(delivered) == down["messages"] + down["spilled"]


def test_sink_keeps_messages_on_configuration_error(
    pipeline: tuple[Any, Any, UnreliableQueue], tmp_path: Path
) -> None:
    """A denied or missing queue needs a human; the sink keeps what it accepted meanwhile."""
    merge, sink, queue = pipeline
    queue.failure = ConfigurationError("The queue does not exist; create it.")

    feed(merge, observations(5))
    first = ask(sink, Flush(), WAIT)
    queue.failure = None
    after = ask(sink, Flush(), WAIT)

    assert sink.is_alive()
    assert first["messages"] + first["spilled"] > 0
    assert after == {"states": 0, "messages": 0, "spilled": 0}
    assert len(read_events(tmp_path / "events.jsonl")) == first["messages"] + first["spilled"]


def test_sink_sets_poison_aside(pipeline: tuple[Any, Any, UnreliableQueue], tmp_path: Path) -> None:
    """Messages the queue rejects for good go to the dead-letter file once; others go on."""
    merge, sink, queue = pipeline
    items = observations(6)
    rejected = items[0].conversation_id
    queue.poison = {rejected}

    feed(merge, items)
    backlog = ask(sink, Flush(), WAIT)
    again = ask(sink, Flush(), WAIT)
    delivered = read_events(tmp_path / "events.jsonl")
    dead = read_events(tmp_path / "dead-letter.jsonl")

    assert backlog == {"states": 0, "messages": 0, "spilled": 0}
    assert again == backlog
    assert dead
    assert {event["conversationId"] for event in dead} == {rejected}
    assert delivered
    assert rejected not in {event["conversationId"] for event in delivered}


def test_final_flush_spills_undelivered(
    pipeline: tuple[Any, Any, UnreliableQueue], tmp_path: Path
) -> None:
    """At stop, messages the queue would not take wait on disk for the next start."""
    merge, sink, queue = pipeline
    queue.failure = ConfigurationError("The queue does not exist; create it.")

    feed(merge, observations(5))
    backlog = ask(sink, Flush(final=True), WAIT)
    spilled = (tmp_path / "spill.jsonl").read_bytes().splitlines()

    assert backlog["messages"] == 0
    assert backlog["spilled"] > 0
    assert len(spilled) == backlog["spilled"]
