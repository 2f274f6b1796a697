"""Frame routing: from a frame's text to the MergeActor of its conversation.

``FrameRouter.route`` runs on the reader threads of every ConnectionActor and
on the BackfillActor's thread. Data frames become observations told to the
MergeActor of their shard; control frames are returned to the caller as a
word ("socket_closing", "not_found", ...) for its ConnectionActor to act on.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pykka

from actors.messages import Observe
from genesys_stream.metrics import Metrics
from handlers.frames import (
    DetailFrame,
    FrameError,
    Heartbeat,
    OtherFrame,
    Pong,
    SnapshotFrame,
    SocketReply,
    SystemFrame,
    parse_frame,
)
from handlers.normalize import Observation, from_frame
from handlers.topics import shard_of

log = logging.getLogger(__name__)

# System topics that need the ConnectionActor, by their `systemTopicType` kind.
_CONTROL_KINDS = {
    "socket_closing": "socket_closing",
    "token_revoked": "token_revoked",
    "no_longer_subscribed": "no_longer_subscribed",
}


class FrameRouter:
    """Parses frames and tells each observation to its shard's MergeActor."""

    def __init__(self, merges: list[pykka.ActorRef[Any]], metrics: Metrics) -> None:
        if not merges:
            raise ValueError("A router needs at least one MergeActor.")
        self._merges = merges
        self._lock = threading.Lock()
        self.metrics = metrics
        self.ignored_topics: set[str] = set()
        # Frames read from every socket; waiters (tests, the demo) use the condition.
        self.frames_read = 0
        self.frames_changed = threading.Condition()

    def replace_merge(self, shard: int, ref: pykka.ActorRef[Any]) -> None:
        """Point a shard at a restarted MergeActor."""
        with self._lock:
            self._merges[shard] = ref

    def route(self, text: str, received_at: float) -> str | None:
        """Handle one frame; return a control word for the ConnectionActor, or None."""
        with self.frames_changed:
            self.frames_read += 1
            self.frames_changed.notify_all()
        try:
            frame = parse_frame(text, received_at)
        except FrameError as exc:
            self.metrics.increment("SchemaSurprises")
            log.warning("frame.invalid", extra={"error": str(exc), "length": len(text)})
            return None

        match frame:
            case SnapshotFrame() | DetailFrame():
                self.metrics.increment("EventsIn")
                observation = from_frame(frame)
                if observation is not None:
                    self.observe(observation)
                return None
            case Heartbeat() | Pong():
                return None
            case SystemFrame(kind=kind):
                log.info(
                    "frame.system",
                    extra={"topic": frame.topic, "kind": kind, "reason": frame.reason},
                )
                return _CONTROL_KINDS.get(kind)
            case SocketReply(result=result):
                log.info("frame.reply", extra={"result": result})
                return "not_found" if result == "404" else None
            case OtherFrame(topic=topic):
                if topic not in self.ignored_topics and len(self.ignored_topics) < 1000:
                    self.ignored_topics.add(topic)
                    log.info("frame.ignored_topic", extra={"topic": topic})
                return None
        return None

    def wait_for_frames(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` frames were read in all; False after ``timeout`` seconds."""
        with self.frames_changed:
            return self.frames_changed.wait_for(lambda: self.frames_read >= count, timeout)

    def observe(self, observation: Observation) -> None:
        """Tell one observation to the MergeActor of its conversation's shard."""
        shard = shard_of(observation.conversation_id, len(self._merges))
        try:
            self._merges[shard].tell(Observe(observation))
        except pykka.ActorDeadError:
            # The Supervisor is restarting this shard; back-fill recovers the event.
            log.warning(
                "merge.unavailable",
                extra={"shard": shard, "conversation_id": observation.conversation_id},
            )
