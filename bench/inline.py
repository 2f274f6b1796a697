"""The service's pipeline on one thread: FrameRouter, MergeActor and SinkActor, no pykka threads.

The actors are constructed but never started. ``DirectRef`` hands each
message straight to the receiving actor's ``on_receive``. So one thread runs
exactly the code the actors run (parse, normalize, merge, message and state
encoding, coalescing, batching), and the measured time is one core's.
The sink flushes after every ``flush_every`` frames: the frames its timer
would see in one flush interval at some offered rate (100 frames are 0.1 s at
1,000 frames per second). Counting frames rather than seconds keeps the work
per frame the same however fast the machine runs. The rate is frames per
second of this thread's CPU time, which leaves out the time other processes
hold the core, but not their effect on shared caches.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import pykka

from actors.merge import MergeActor
from actors.messages import Flush
from actors.router import FrameRouter
from actors.sink import SinkActor
from bench.stores import MemoryEventQueue, MemoryStateStore
from genesys_stream.clock import SystemClock
from genesys_stream.metrics import Metrics
from handlers.lifecycle import LIFECYCLE_EVENT_TYPES


class DirectRef:
    """An actor reference whose ``tell`` runs the actor's ``on_receive`` on the caller's thread."""

    def __init__(self, actor: pykka.Actor) -> None:
        self.actor = actor

    def tell(self, message: Any) -> None:
        self.actor.on_receive(message)


@dataclass
class InlineResult:
    frames: int
    seconds: float  # CPU time of the thread
    writes: int
    requests: int
    forwarded: int

    @property
    def rate(self) -> float:
        return self.frames / self.seconds


def run_inline(
    frames: Sequence[str], *, latency: float = 0.0, flush_every: int = 100
) -> InlineResult:
    """Push ``frames`` through the pipeline as fast as one thread can, and flush at the end."""
    states = MemoryStateStore(latency)
    queue = MemoryEventQueue(latency)
    metrics = Metrics()
    merges: list[pykka.ActorRef[Any]] = []
    sink = SinkActor(
        states=states,
        queue=queue,
        checkpoints=None,
        clock=SystemClock(),
        metrics=metrics,
        merges=merges,
    )
    sink_ref = cast("pykka.ActorRef[Any]", DirectRef(sink))
    merge = MergeActor(
        shard=0, sink=sink_ref, metrics=metrics, forward_events=LIFECYCLE_EVENT_TYPES
    )
    merges.append(cast("pykka.ActorRef[Any]", DirectRef(merge)))
    router = FrameRouter(merges, metrics)
    flush = Flush(final=True)

    started = time.thread_time()
    for index, frame in enumerate(frames, start=1):
        router.route(frame, time.time())
        if index % flush_every == 0:
            sink.on_receive(flush)
    sink.on_receive(flush)
    seconds = time.thread_time() - started
    return InlineResult(len(frames), seconds, states.puts, queue.requests, queue.accepted)
