"""The whole service against the simulator on loopback, driven by a FakeClock.

``Pipeline.step(seconds)`` advances the shared clock (which sends the
simulator's due emissions and heartbeats and fires the service's timers),
then waits, on conditions and actor replies with timeouts, until every frame
the simulator wrote has been read and every observation merged and flushed.
No test waits in real time for a heartbeat, a back-off or an expiry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actors.messages import ask
from genesys_stream.app import Service, Settings, Stores
from genesys_stream.clock import FakeClock
from genesys_stream.metrics import Metrics
from genesys_stream.verify import Comparison, compare
from simulator import RequestRecord, Simulator
from simulator.traffic import Scenario
from stores.local import LocalCheckpointStore, LocalEventQueue, LocalStateStore

# Real seconds any single wait may take before the harness gives up on it.
WAIT = 10.0


def local_stores(directory: Path, clock: FakeClock) -> Stores:
    """Return the embedded stores in ``directory``."""
    return Stores(
        states=LocalStateStore(directory / "state.sqlite3"),
        queue=LocalEventQueue(directory / "events.jsonl", clock),
        checkpoints=LocalCheckpointStore(directory / "state.sqlite3"),
        spill_path=directory / "spill.jsonl",
    )


@dataclass
class Pipeline:
    clock: FakeClock
    simulator: Simulator
    service: Service
    stores: Stores
    metrics: Metrics
    # Frames the simulator wrote that no reader will ever read (their socket
    # went away first); settling stops waiting for them once found.
    unread: int = field(default=0)
    # Real seconds ``settle`` waits for frames still on their way to a reader.
    read_timeout: float = 2.0

    def step(self, seconds: float = 1.0) -> None:
        """Advance the clock, then wait until the service caught up."""
        self.clock.advance(seconds)
        self.settle()

    def run_for(self, seconds: float, step: float = 1.0) -> None:
        """Advance ``seconds`` in steps of ``step``, settling after each."""
        remaining = seconds
        while remaining > 0:
            self.step(min(step, remaining))
            remaining -= step

    def settle(self) -> bool:
        """Wait until frames written are read, merged and flushed.

        Returns False if frames written to a socket that then dropped were
        never read, which fault tests expect; everything else still settles.
        Later calls do not wait again for frames found missing.
        """
        self.barrier()
        router = self.service.router
        assert router is not None
        sent = self.simulator.frames_sent
        all_read = router.wait_for_frames(sent - self.unread, timeout=self.read_timeout)
        # Frames taken for lost may still arrive late, so the count follows
        # what was read, both ways.
        if not all_read or router.frames_read > sent - self.unread:
            self.unread = max(0, sent - router.frames_read)
        self.service.drain(timeout=WAIT)
        return all_read

    def wait_for(self, condition: Callable[[], bool], timeout: float = WAIT) -> bool:
        """Wait, without moving the clock, until ``condition()`` holds; False after ``timeout``.

        Between checks it waits for the actors to go idle, or for a frame to
        arrive, so a condition set by a reader thread or an actor is seen soon.
        """
        router = self.service.router
        assert router is not None
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                return False
            self.barrier()
            with router.frames_changed:
                router.frames_changed.wait(0.02)
        return True

    def requests(self, method: str, path: str) -> list[RequestRecord]:
        """Return the simulator's record of every ``method`` request to ``path``, in order."""
        return [r for r in self.simulator.requests if r.method == method and r.path == path]

    def barrier(self) -> None:
        """Wait until every connection, heartbeat and back-fill actor is idle."""
        refs = [*self.service.connections, self.service.heartbeat, self.service.backfill]
        for ref in refs:
            if ref is not None and ref.is_alive():
                ask(ref, "barrier", WAIT)

    def compare(self, scenario: Scenario) -> Comparison:
        return compare(scenario.truth, self.stores.states, scenario.truth.conversation_ids())

    def totals(self) -> dict[str, float]:
        return self.metrics.totals()


@contextmanager
def running_pipeline(
    simulator: Simulator,
    clock: FakeClock,
    stores: Stores,
    topics: tuple[str, ...],
    **overrides: Any,
) -> Iterator[Pipeline]:
    """Start the service on ``simulator`` and stop it (flushing) on exit."""
    settings = Settings(
        login_url=simulator.base_url,
        api_url=simulator.base_url,
        client_id=simulator.client_id,
        client_secret=simulator.client_secret,
        topics=topics,
        flush_interval=1.0,
        backfill_lookback=0.0,
    )
    for name, value in overrides.items():
        setattr(settings, name, value)
    metrics = Metrics()
    service = Service(settings, stores, clock, metrics)
    service.start()
    pipeline = Pipeline(clock, simulator, service, stores, metrics)
    try:
        pipeline.barrier()
        yield pipeline
    finally:
        service.stop(timeout=WAIT)
