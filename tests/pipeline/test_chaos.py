"""Chaos: 300 conversations while the simulator injects a seeded, random mix of faults.

Socket faults (drop, close 1001, a 404 frame, ``socket_closing``, silence)
and HTTP faults (subscriptions 503, channel creation 429 with Retry-After,
token endpoint 503) arrive at random times of the traffic window. Once the
traffic and the faults are over, every stored state must equal the truth.
The same seed injects the same faults at the same simulated times.
"""

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from genesys_stream.clock import FakeClock
from simulator import Simulator
from simulator.traffic import TrafficConfig, generate
from tests.pipeline.harness import Pipeline, local_stores, running_pipeline

CONVERSATIONS = 300
# Simulated seconds over which conversations start, and in which faults are injected.
WINDOW = 900.0
FAULTS = 14
# Simulated seconds a silence (no heartbeat, no pong) lasts.
SILENCE = 90.0
# Seconds; short enough that the window contains renewals, which token endpoint faults hit.
TOKEN_TTL = 600.0
# Simulated seconds after the last emission for reconnects, back-fill and the last flush.
SETTLE = 240.0
STEP = 2.0
CHANNELS = "/api/v2/notifications/channels"


@dataclass(frozen=True)
class Fault:
    at: float  # simulated epoch seconds
    kind: str


def plan_faults(rng: random.Random, start: float) -> list[Fault]:
    """Return ``FAULTS`` faults of random kinds at random times of the window."""
    kinds = sorted(INJECTORS)
    times = sorted(rng.uniform(start + 30.0, start + WINDOW - 30.0) for _ in range(FAULTS))
    return [Fault(at, rng.choice(kinds)) for at in times]


def silence(simulator: Simulator, pipeline: Pipeline) -> None:
    simulator.faults.stop_heartbeats()
    simulator.faults.drop_pongs(True)

    def resume() -> None:
        simulator.faults.resume_heartbeats()
        simulator.faults.drop_pongs(False)

    pipeline.clock.call_later(SILENCE, resume)


def subscriptions_503(simulator: Simulator, pipeline: Pipeline) -> None:
    # The 404 makes the service build a new channel, whose subscription call then fails.
    simulator.faults.fail_next("PUT", CHANNELS + "/*/subscriptions", count=3, status=503)
    simulator.faults.send_404()


def channels_429(simulator: Simulator, pipeline: Pipeline) -> None:
    simulator.faults.fail_next("POST", CHANNELS, count=1, status=429, retry_after=5)
    simulator.faults.send_404()


INJECTORS: dict[str, Callable[[Simulator, Pipeline], object]] = {
    "drop": lambda simulator, pipeline: simulator.faults.drop_sockets(),
    "close_1001": lambda simulator, pipeline: simulator.faults.close_sockets(1001),
    "not_found": lambda simulator, pipeline: simulator.faults.send_404(),
    "socket_closing": lambda simulator, pipeline: simulator.faults.send_socket_closing(
        close_after=55.0
    ),
    "silence": silence,
    "subscriptions_503": subscriptions_503,
    "channels_429": channels_429,
    "token_503": lambda simulator, pipeline: simulator.faults.fail_next(
        "POST", "/oauth/token", count=2, status=503
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_chaos_converges_to_truth(seed: int, tmp_path: Path) -> None:
    clock = FakeClock()
    scenario = generate(
        TrafficConfig(
            conversations=CONVERSATIONS,
            start=clock.time() + 5,
            duration=WINDOW,
            seed=seed,
            duplicate_rate=0.1,
            reorder_rate=0.1,
        )
    )
    faults = plan_faults(random.Random(seed), clock.time())
    injected: Counter[str] = Counter()
    topics = tuple(scenario.truth.queue_topics())

    with (
        Simulator(clock=clock, token_ttl=TOKEN_TTL) as simulator,
        running_pipeline(simulator, clock, local_stores(tmp_path, clock), topics) as pipeline,
    ):
        # Faults lose frames on many steps; waiting 2 s for each would dominate the run.
        pipeline.read_timeout = 0.3
        simulator.load(scenario)
        end = scenario.emissions[-1].at + SETTLE
        pending = list(faults)
        while clock.time() < end:
            while pending and pending[0].at <= clock.time():
                fault = pending.pop(0)
                INJECTORS[fault.kind](simulator, pipeline)
                injected[fault.kind] += 1
            pipeline.step(STEP)
        comparison = pipeline.compare(scenario)
        stats = pipeline.service.backfill_stats()
        counts = simulator.faults.counts

    print(
        f"seed {seed}: faults injected {dict(sorted(injected.items()))}; "
        f"applied by the simulator {dict(sorted(counts.items()))}; "
        f"gaps back-filled {stats['gaps']}, longest {stats['longest_gap']:.1f} s; "
        f"matched {len(comparison.matched)} of {comparison.total}"
    )
    assert sum(injected.values()) == FAULTS
    assert comparison.missing == []
    assert comparison.differing == []
