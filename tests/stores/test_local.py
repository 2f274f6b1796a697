"""What only the embedded store does: persistence across opens, threads, the dedup window."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from genesys_stream.clock import FakeClock
from stores.base import OutboundMessage, RevisionConflict, StateRecord
from stores.local import (
    DEDUPLICATION_WINDOW,
    LocalCheckpointStore,
    LocalEventQueue,
    LocalStateStore,
    read_events,
)


def test_state_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "state.db"
    first = LocalStateStore(path)
    first.save(StateRecord("c-1", 1, {"state": "active"}), None)
    first.close()

    reopened = LocalStateStore(path)

    loaded = reopened.load("c-1")
    assert loaded is not None
    assert loaded.item["state"] == "active"
    reopened.close()


def test_state_and_checkpoints_share_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    states = LocalStateStore(path)
    checkpoints = LocalCheckpointStore(path)

    states.save(StateRecord("c-1", 1, {}), None)
    checkpoints.put_checkpoint("stream", 5.0)

    assert states.load("c-1") is not None
    assert checkpoints.get_checkpoint("stream") == 5.0
    states.close()
    checkpoints.close()


def test_concurrent_writers_one_winner_per_revision(tmp_path: Path) -> None:
    """Eight threads race to move one conversation forward; every revision is written once."""
    store = LocalStateStore(tmp_path / "state.db")
    store.save(StateRecord("c-1", 1, {"writes": []}), None)
    wins: list[int] = []
    lock = threading.Lock()

    def writer(number: int) -> None:
        for _ in range(20):
            current = store.load("c-1")
            assert current is not None
            item = {"writes": [*current.item["writes"], number]}
            try:
                store.save(StateRecord("c-1", current.revision + 1, item), current.revision)
            except RevisionConflict:
                continue
            with lock:
                wins.append(current.revision + 1)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    final = store.load("c-1")
    assert final is not None
    assert sorted(wins) == list(range(2, final.revision + 1))
    assert len(final.item["writes"]) == final.revision - 1
    store.close()


def test_queue_writes_json_lines(
    tmp_path: Path, make_outbound: Callable[..., OutboundMessage]
) -> None:
    path = tmp_path / "events.jsonl"
    queue = LocalEventQueue(path, FakeClock())
    message = make_outbound("c-1", 1)

    queue.send([message])
    queue.close()

    (line,) = read_events(path)
    assert line == {
        "conversationId": "c-1",
        "type": "conversation.updated",
        "messageGroupId": "c-1",
        "messageDeduplicationId": message.deduplication_id,
        "attributes": message.attributes,
        "body": message.body.decode(),
    }


def test_queue_dedup_window_expires(
    tmp_path: Path, make_outbound: Callable[..., OutboundMessage]
) -> None:
    clock = FakeClock()
    path = tmp_path / "events.jsonl"
    queue = LocalEventQueue(path, clock)
    message = make_outbound("c-1", 1)

    queue.send([message])
    clock.advance(DEDUPLICATION_WINDOW - 1)
    queue.send([message])
    clock.advance(2)
    queue.send([message])
    queue.close()

    assert len(read_events(path)) == 2


def test_queue_appends_across_opens(
    tmp_path: Path, make_outbound: Callable[..., OutboundMessage]
) -> None:
    path = tmp_path / "events.jsonl"
    for number in range(2):
        queue = LocalEventQueue(path, FakeClock())
        queue.send([make_outbound("c-1", number)])
        queue.close()

    assert len(read_events(path)) == 2
