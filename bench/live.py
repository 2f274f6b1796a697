"""The service's actors on their own threads, fed frames at a fixed offered rate.

A driver thread hands each frame to ``FrameRouter.route`` at its scheduled
time, as a ConnectionActor's reader thread does, with the receive time from
the system clock. MergeActors and the SinkActor run as started pykka actors
with a real flush timer, writing to in-memory stores that block each call
for the simulated latency. The latency of a forwarded event is measured from
its frame's receive time to the end of the queue request that accepted it.

NOTE: frames do not cross a socket here, so the figures leave out the
WebSocket read and the cost of running the simulator in the same process.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pykka

from actors.merge import MergeActor
from actors.messages import Drain, Flush, ask
from actors.router import FrameRouter
from actors.sink import SinkActor
from bench.stores import MemoryEventQueue, MemoryStateStore
from genesys_stream.clock import SystemClock
from genesys_stream.metrics import Metrics
from handlers.lifecycle import LIFECYCLE_EVENT_TYPES

# Real seconds any single wait for an actor may take.
WAIT = 30.0


@dataclass
class LiveSettings:
    rate: float  # offered frames per second; 0 offers them as fast as the driver can
    latency: float  # seconds each store call blocks
    flush_interval: float  # seconds
    write_concurrency: int
    merge_shards: int = 2


@dataclass
class LiveResult:
    frames: int
    offered_rate: float  # achieved by the driver, frames per second
    seconds: float  # from the first frame to the last message accepted
    writes: int
    requests: int
    forwarded: int
    latencies: list[float]  # seconds, one per forwarded event

    @property
    def throughput(self) -> float:
        return self.frames / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run_live(frames: Sequence[str], settings: LiveSettings) -> LiveResult:
    """Offer ``frames`` at ``settings.rate`` and wait until every event is forwarded."""
    states = MemoryStateStore(settings.latency)
    queue = MemoryEventQueue(settings.latency, track_latency=True)
    metrics = Metrics()
    clock = SystemClock()
    merges: list[pykka.ActorRef[Any]] = []
    sink = SinkActor.start(
        states=states,
        queue=queue,
        checkpoints=None,
        clock=clock,
        metrics=metrics,
        merges=merges,
        flush_interval=settings.flush_interval,
        write_concurrency=settings.write_concurrency,
    )
    for shard in range(settings.merge_shards):
        merges.append(
            MergeActor.start(
                shard=shard, sink=sink, metrics=metrics, forward_events=LIFECYCLE_EVENT_TYPES
            )
        )
    router = FrameRouter(merges, metrics)

    try:
        started = time.perf_counter()
        _offer(router, frames, settings.rate, started)
        offered = time.perf_counter() - started
        for merge in merges:
            ask(merge, Drain(), WAIT)
        # Wait for the timer flushes that send what is still pending.
        _wait_until_idle(queue, settings.flush_interval)
        finished = queue.last_accepted_perf or time.perf_counter()
    finally:
        for merge in merges:
            merge.stop(timeout=WAIT)
        ask(sink, Flush(final=True), WAIT)
        sink.stop(timeout=WAIT)

    return LiveResult(
        frames=len(frames),
        offered_rate=len(frames) / offered,
        seconds=finished - started,
        writes=states.puts,
        requests=queue.requests,
        forwarded=queue.accepted,
        latencies=queue.latencies,
    )


def _offer(router: FrameRouter, frames: Sequence[str], rate: float, started: float) -> None:
    for index, frame in enumerate(frames):
        if rate > 0:
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        router.route(frame, time.time())


def _wait_until_idle(queue: MemoryEventQueue, flush_interval: float) -> None:
    quiet = max(3 * flush_interval, 0.2)
    deadline = time.perf_counter() + WAIT
    last = -1
    while time.perf_counter() < deadline:
        if queue.accepted == last:
            return
        last = queue.accepted
        time.sleep(quiet)
