"""MergeActor: the merged state of every conversation in one shard.

A conversation belongs to shard ``shard_of(conversation_id, shards)``, a
stable hash, so every observation of it reaches the same actor, whichever
channel or back-fill it came from. The actor merges each observation into
its cached state; a change goes to the SinkActor with the lifecycle messages
the forward filter selects.

The cache keeps at most ``max_cached`` conversations, least recently changed
out first. A conversation that falls out and comes back starts from no
state; the SinkActor's conditional write then finds the stored revision and
joins the two, so nothing regresses.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Collection
from typing import Any

import pykka

from actors.messages import ChildFailed, Drain, Observe, Rebase, SetSink, StateChanged
from genesys_stream.metrics import Metrics
from handlers.merge import ConversationState, join_states, merge
from handlers.records import encode_message

log = logging.getLogger(__name__)


class MergeActor(pykka.ThreadingActor):
    """Merges observations of one shard's conversations."""

    def __init__(
        self,
        *,
        shard: int,
        sink: pykka.ActorRef[Any],
        metrics: Metrics,
        forward_events: Collection[str],
        supervisor: pykka.ActorRef[Any] | None = None,
        max_cached: int = 50_000,
    ) -> None:
        super().__init__()
        self.shard = shard
        self.sink = sink
        self.metrics = metrics
        self.forward_events = frozenset(forward_events)
        self.supervisor = supervisor
        self.max_cached = max_cached
        self.cache: OrderedDict[str, ConversationState] = OrderedDict()

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        if self.supervisor is not None:
            self.supervisor.tell(ChildFailed(f"merge-{self.shard}", repr(exception_value)))

    def on_receive(self, message: Any) -> Any:
        match message:
            case Observe(observation=observation):
                self._observe(observation)
            case Rebase(conversation_id=conversation_id, state=state):
                current = self.cache.get(conversation_id)
                self.cache[conversation_id] = (
                    state if current is None else join_states(current, state)
                )
            case SetSink(ref=ref):
                self.sink = ref
            case Drain():
                return True
        return None

    def _observe(self, observation: Any) -> None:
        conversation_id = observation.conversation_id
        current = self.cache.get(conversation_id)
        try:
            result = merge(current, observation)
        except Exception:
            # One malformed observation must not stop the shard; count it and go on.
            self.metrics.increment("MergeErrors")
            log.exception(
                "merge.failed",
                extra={"conversation_id": conversation_id, "topic": observation.topic},
            )
            return
        if result.surprises:
            self.metrics.increment("SchemaSurprises", result.surprises)
        if not result.changed:
            return
        self.metrics.increment("EventsMerged")

        self.cache[conversation_id] = result.state
        self.cache.move_to_end(conversation_id)
        if len(self.cache) > self.max_cached:
            self.cache.popitem(last=False)

        messages = tuple(
            encode_message(event, result.state, observation, observation.received_at)
            for event in result.events
            if event.type in self.forward_events
        )
        change = StateChanged(
            conversation_id=conversation_id,
            shard=self.shard,
            state=result.state,
            messages=messages,
            received_at=observation.received_at,
        )
        try:
            self.sink.tell(change)
        except pykka.ActorDeadError:
            # The Supervisor is restarting the sink and then back-fills from the
            # checkpoint, which brings this change back.
            log.warning("sink.unavailable", extra={"conversation_id": conversation_id})
