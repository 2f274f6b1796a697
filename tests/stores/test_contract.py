"""The store contracts, run against the local store and against AWS on moto."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from stores.base import CheckpointStore, OutboundMessage, RevisionConflict, StateRecord, StateStore
from stores.errors import DeliveryError


def record(conversation_id: str, revision: int, **fields: Any) -> StateRecord:
    item = {
        "conversationId": conversation_id,
        "revision": revision,
        "state": "active",
        "participants": [{"id": "p1", "purpose": "customer", "attributes": {"a": "1"}}],
        "updatedAt": 1_767_225_600,
        "expiresAt": 1_769_817_600,
        **fields,
    }
    return StateRecord(conversation_id, revision, item)


# State


def test_state_roundtrip(state_store: StateStore) -> None:
    saved = record("c-1", 1, mediaTypes=["voice"], wrapup=None, held=False, score=4.5)

    state_store.save(saved, expected_revision=None)

    assert state_store.load("c-1") == saved


def test_state_load_missing(state_store: StateStore) -> None:
    assert state_store.load("c-unknown") is None


def test_state_save_fills_key_and_revision(state_store: StateStore) -> None:
    state_store.save(StateRecord("c-1", 1, {"state": "active"}), expected_revision=None)

    loaded = state_store.load("c-1")

    assert loaded is not None
    assert loaded.item == {"state": "active", "conversationId": "c-1", "revision": 1}


def test_state_update_on_expected_revision(state_store: StateStore) -> None:
    state_store.save(record("c-1", 1), expected_revision=None)

    state_store.save(record("c-1", 2, state="ended"), expected_revision=1)

    loaded = state_store.load("c-1")
    assert loaded is not None
    assert loaded.revision == 2
    assert loaded.item["state"] == "ended"


def test_state_create_conflicts_when_stored(state_store: StateStore) -> None:
    state_store.save(record("c-1", 3), expected_revision=None)

    with pytest.raises(RevisionConflict) as raised:
        state_store.save(record("c-1", 1, state="ended"), expected_revision=None)

    assert raised.value.expected is None
    assert raised.value.current == record("c-1", 3)


def test_state_update_conflicts_with_current(state_store: StateStore) -> None:
    state_store.save(record("c-1", 1), expected_revision=None)
    state_store.save(record("c-1", 2, state="ended"), expected_revision=1)

    with pytest.raises(RevisionConflict) as raised:
        state_store.save(record("c-1", 2, state="active"), expected_revision=1)

    assert raised.value.conversation_id == "c-1"
    assert raised.value.current == record("c-1", 2, state="ended")
    assert state_store.load("c-1") == record("c-1", 2, state="ended")


def test_state_update_of_missing_conflicts(state_store: StateStore) -> None:
    with pytest.raises(RevisionConflict) as raised:
        state_store.save(record("c-1", 2), expected_revision=1)

    assert raised.value.current is None


def test_state_rejects_revision_not_moving_forward(state_store: StateStore) -> None:
    with pytest.raises(ValueError, match="does not move past"):
        state_store.save(record("c-1", 1), expected_revision=1)


def test_state_rejects_mismatched_item(state_store: StateStore) -> None:
    mismatched = StateRecord("c-1", 1, {"conversationId": "c-2", "revision": 1})

    with pytest.raises(ValueError, match="conversationId"):
        state_store.save(mismatched, expected_revision=None)


def test_state_list(state_store: StateStore) -> None:
    for number in range(7):
        state_store.save(record(f"c-{number}", 1), expected_revision=None)

    everything = state_store.list(limit=100)
    some = state_store.list(limit=3)

    assert sorted(found.conversation_id for found in everything) == [f"c-{n}" for n in range(7)]
    assert len(some) == 3
    assert state_store.list(limit=0) == []


def test_stale_writer_never_regresses(state_store: StateStore) -> None:
    """Two writers on one conversation: the later revision wins and stays."""
    state_store.save(record("c-1", 1), expected_revision=None)
    # Both writers read revision 1; the new owner writes twice, the old owner then once.
    state_store.save(record("c-1", 2, state="active", owner="new"), expected_revision=1)
    state_store.save(record("c-1", 3, state="ended", owner="new"), expected_revision=2)

    with pytest.raises(RevisionConflict) as stale:
        state_store.save(record("c-1", 2, state="active", owner="old"), expected_revision=1)
    # The old writer merges into what it was given and writes over the current revision.
    current = stale.value.current
    assert current is not None
    state_store.save(record("c-1", 4, state="ended", owner="both"), current.revision)

    loaded = state_store.load("c-1")
    assert stale.value.current == record("c-1", 3, state="ended", owner="new")
    assert loaded is not None
    assert loaded.revision == 4
    assert loaded.item["owner"] == "both"


def test_stale_writer_from_empty_store(state_store: StateStore) -> None:
    """Of two writers that both found nothing stored, the first write wins."""
    state_store.save(record("c-1", 1, owner="first"), expected_revision=None)

    with pytest.raises(RevisionConflict):
        state_store.save(record("c-1", 1, owner="second"), expected_revision=None)

    loaded = state_store.load("c-1")
    assert loaded is not None
    assert loaded.item["owner"] == "first"


# Checkpoints


def test_checkpoint_missing(checkpoint_store: CheckpointStore) -> None:
    assert checkpoint_store.get_checkpoint("stream") is None


def test_checkpoint_roundtrip(checkpoint_store: CheckpointStore) -> None:
    checkpoint_store.put_checkpoint("stream", 1_767_225_600.25)

    assert checkpoint_store.get_checkpoint("stream") == 1_767_225_600.25


def test_checkpoint_moves_forward_only(checkpoint_store: CheckpointStore) -> None:
    checkpoint_store.put_checkpoint("stream", 200.0)
    checkpoint_store.put_checkpoint("stream", 300.0)
    checkpoint_store.put_checkpoint("stream", 100.0)

    assert checkpoint_store.get_checkpoint("stream") == 300.0


def test_checkpoint_shards_independent(checkpoint_store: CheckpointStore) -> None:
    checkpoint_store.put_checkpoint("shard-0", 10.0)
    checkpoint_store.put_checkpoint("shard-1", 20.0)

    assert checkpoint_store.get_checkpoint("shard-0") == 10.0
    assert checkpoint_store.get_checkpoint("shard-1") == 20.0


# Events


def test_queue_delivers_every_message(
    event_queue: Any, make_outbound: Callable[..., OutboundMessage]
) -> None:
    messages = [make_outbound(f"c-{n % 3}", n) for n in range(23)]

    event_queue.queue.send(messages)

    delivered = event_queue.delivered()
    assert sorted(d.body for d in delivered) == sorted(m.body.decode() for m in messages)
    assert all(d.attributes["type"] == "conversation.updated" for d in delivered)


def test_queue_keeps_group_order(
    event_queue: Any, make_outbound: Callable[..., OutboundMessage]
) -> None:
    messages = [make_outbound("c-1", n) for n in range(15)]

    event_queue.queue.send(messages)

    delivered = [d.body for d in event_queue.delivered()]
    if event_queue.deduplicates:
        assert delivered == [m.body.decode() for m in messages]
    else:
        assert sorted(delivered) == sorted(m.body.decode() for m in messages)


def test_queue_sets_fifo_ids(
    event_queue: Any, make_outbound: Callable[..., OutboundMessage]
) -> None:
    message = make_outbound("c-1", 1)

    event_queue.queue.send([message])

    (delivered,) = event_queue.delivered()
    if event_queue.deduplicates:
        assert delivered.group_id == "c-1"
        assert delivered.deduplication_id == message.deduplication_id
    else:
        assert delivered.group_id is None


def test_queue_deduplicates_resends(
    event_queue: Any, make_outbound: Callable[..., OutboundMessage]
) -> None:
    messages = [make_outbound("c-1", n) for n in range(3)]

    event_queue.queue.send(messages)
    event_queue.queue.send(messages[1:])

    expected = 3 if event_queue.deduplicates else 5
    assert len(event_queue.delivered()) == expected


def test_queue_poison_does_not_block(
    event_queue: Any, make_outbound: Callable[..., OutboundMessage]
) -> None:
    good = [make_outbound("c-1", n) for n in range(12)]
    poison = make_outbound("c-2", 0, body=b'{"note":"nul \x00 here"}')

    with pytest.raises(DeliveryError) as raised:
        event_queue.queue.send([*good[:5], poison, *good[5:]])

    assert raised.value.failed == [poison]
    assert raised.value.permanent == [poison]
    assert "U+0000" in raised.value.reasons[poison.deduplication_id]
    assert len(event_queue.delivered()) == 12


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"\xff\xfe not utf-8", "not valid UTF-8"),
        ('{"bell":"\u0007"}'.encode(), "U+0007"),
        ('{"nonchar":"\uffff"}'.encode(), "U+FFFF"),
    ],
)
def test_queue_rejects_characters_sqs_rejects(
    event_queue: Any, make_outbound: Callable[..., OutboundMessage], body: bytes, reason: str
) -> None:
    message = make_outbound("c-1", 0, body=body)

    with pytest.raises(DeliveryError) as raised:
        event_queue.queue.send([message])

    assert reason in raised.value.reasons[message.deduplication_id]
    assert event_queue.delivered() == []


def test_queue_accepts_allowed_characters(
    event_queue: Any, make_outbound: Callable[..., OutboundMessage]
) -> None:
    body = '{"text":"tab\there, café, 日本, emoji 😀, \ue000"}'.encode()

    event_queue.queue.send([make_outbound("c-1", 0, body=body)])

    assert [d.body for d in event_queue.delivered()] == [body.decode()]
