"""SinkActor writes against another writer, on the local store."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pykka
import pytest

from actors.messages import Flush, Rebase, StateChanged, ask
from actors.sink import SinkActor
from genesys_stream.clock import FakeClock
from genesys_stream.metrics import Metrics
from handlers.merge import ConversationState, merge
from handlers.normalize import from_snapshot
from handlers.records import decode_state, encode_state
from handlers.state import project
from stores.local import LocalEventQueue, LocalStateStore

SAMPLE = Path(__file__).parents[1] / "samples" / "conversation-user-topic-callback-connected.json"
AGENT = "5151853c-ca28-48da-bdcd-f15c46f0712e"
WAIT = 10.0


class Recorder(pykka.ThreadingActor):
    """Stands in for a MergeActor: keeps every Rebase it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.rebases: list[Rebase] = []

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Rebase):
            self.rebases.append(message)
        return len(self.rebases)


@pytest.fixture
def recorder() -> Iterator[pykka.ActorRef[Any]]:
    ref = Recorder.start()
    yield ref
    ref.stop()


def snapshot(**agent_fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(SAMPLE.read_bytes())["eventBody"]
    for leg in body["participants"]:
        if leg["id"] == AGENT:
            leg.update(copy.deepcopy(agent_fields))
    return body


def merged(state: ConversationState | None, body: dict[str, Any]) -> ConversationState:
    return merge(state, from_snapshot(body, 1.0)).state


def change(state: ConversationState) -> StateChanged:
    return StateChanged(state.conversation_id, 0, state, (), 1.0)


def test_stale_merge_after_rebase_keeps_join(tmp_path: Path, recorder: pykka.ActorRef[Any]) -> None:
    """A merge made before the Rebase arrived is joined with it, not written over it."""
    clock = FakeClock()
    store = LocalStateStore(tmp_path / "state.sqlite3")
    sink = SinkActor.start(
        states=store,
        queue=LocalEventQueue(tmp_path / "events.jsonl", clock),
        checkpoints=None,
        clock=clock,
        metrics=Metrics(),
        merges=[recorder],
        flush_interval=3600.0,
    )
    try:
        first = merged(None, snapshot())
        sink.tell(change(first))
        ask(sink, Flush(final=True), WAIT)

        # Another writer stores a wrap-up code this sink has not seen.
        theirs = merged(first, snapshot(wrapup={"code": "code-resolved", "name": "Resolved"}))
        store.save(encode_state(theirs, clock.time(), 86400), expected_revision=first.revision)

        # The MergeActor merges two changes on its old state before any Rebase reaches it.
        held = merged(first, snapshot(skillNote="a"))
        sink.tell(change(held))
        ask(sink, Flush(final=True), WAIT)
        later = merged(held, snapshot(skillNote="a", languageNote="b"))
        sink.tell(change(later))
        backlog = ask(sink, Flush(final=True), WAIT)
        stored = store.load(first.conversation_id)
    finally:
        sink.stop()
    rebases = ask(recorder, "count", WAIT)

    assert backlog == {"states": 0, "messages": 0, "spilled": 0}
    assert stored is not None
    assert stored.revision > later.revision
    assert project(decode_state(stored))["participants"][AGENT]["wrapupCode"] == "code-resolved"
    assert decode_state(stored).participants[AGENT].fields["languageNote"][1] == "b"
    assert rebases >= 1
