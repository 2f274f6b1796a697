"""TokenActor against the simulator's token endpoint on loopback, on a FakeClock."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pykka
import pytest

from actors.messages import Fatal, TokenRotated, ask
from actors.token import Subscribe, TokenActor, TokenHolder
from genesys.auth import OAuthClient
from genesys.retry import RetryPolicy
from genesys_stream.clock import FakeClock
from simulator import Simulator

TOKEN_TTL = 600.0
# Real seconds any ask may take.
WAIT = 10.0


class Probe(pykka.ThreadingActor):
    """Records every message it receives; ``"messages"`` returns them."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[Any] = []

    def on_receive(self, message: Any) -> Any:
        if message == "messages":
            return list(self.received)
        self.received.append(message)
        return None


@dataclass
class Running:
    clock: FakeClock
    simulator: Simulator
    holder: TokenHolder
    token: pykka.ActorRef[Any]
    supervisor: pykka.ActorRef[Any]
    subscriber: pykka.ActorRef[Any]

    def advance(self, seconds: float, step: float = 1.0) -> dict[str, Any]:
        """Advance the clock in steps, letting the actor handle each step's timers.

        A retry timer is set by the actor's thread after the timer before it
        fired, so one long ``advance`` would fire only the first of them.
        """
        target = self.clock.monotonic() + seconds
        while True:
            self.clock.advance(min(step, target - self.clock.monotonic()))
            stats: dict[str, Any] = ask(self.token, "stats", WAIT)
            if self.clock.monotonic() >= target:
                return stats

    def token_requests(self) -> list[int]:
        return [r.status for r in self.simulator.requests if r.path == "/oauth/token"]


@pytest.fixture
def running() -> Iterator[Running]:
    clock = FakeClock()
    with Simulator(clock=clock, token_ttl=TOKEN_TTL) as simulator:
        oauth = OAuthClient(
            simulator.base_url,
            simulator.client_id,
            simulator.client_secret,
            clock,
            policy=RetryPolicy(max_attempts=1),
        )
        holder = TokenHolder()
        supervisor = Probe.start()
        subscriber = Probe.start()
        token = TokenActor.start(oauth=oauth, holder=holder, clock=clock, supervisor=supervisor)
        token.tell(Subscribe(subscriber))
        try:
            ask(token, "stats", WAIT)
            yield Running(clock, simulator, holder, token, supervisor, subscriber)
        finally:
            for ref in (token, supervisor, subscriber):
                ref.stop(block=True, timeout=WAIT)


def test_renews_at_fraction_of_lifetime(running: Running) -> None:
    first = running.holder.current()

    before = running.advance(TOKEN_TTL * 0.8 - 1)
    after = running.advance(2)

    assert before["renewals"] == 0
    assert after["renewals"] == 1
    assert running.holder.current().value != first.value
    rotated = ask(running.subscriber, "messages", WAIT)
    assert rotated == [TokenRotated(running.holder.current().expires_at)]


def test_server_error_keeps_token_and_retries(running: Running) -> None:
    first = running.holder.current()
    running.simulator.faults.fail_next("POST", "/oauth/token", count=3, status=503)

    failing = running.advance(TOKEN_TTL * 0.8)
    during_failures = running.holder.current()
    recovered = running.advance(TOKEN_TTL * 0.1)

    assert failing["failures"] == 1
    assert during_failures.value == first.value
    assert ask(running.subscriber, "messages", WAIT) == [
        TokenRotated(running.holder.current().expires_at)
    ]
    assert recovered["failures"] == 3
    assert recovered["renewals"] == 1
    assert running.holder.current().value != first.value
    assert running.token_requests() == [200, 503, 503, 503, 200]


def test_retry_waits_for_retry_after(running: Running) -> None:
    running.simulator.faults.fail_next("POST", "/oauth/token", count=1, status=429, retry_after=30)

    running.advance(TOKEN_TTL * 0.8)
    early = running.advance(29)
    late = running.advance(2)

    assert early["renewals"] == 0
    assert late["renewals"] == 1
    assert running.token_requests() == [200, 429, 200]


def test_rejected_credentials_are_fatal_once(running: Running) -> None:
    running.simulator.faults.fail_next("POST", "/oauth/token", count=1, status=401)

    stats = running.advance(TOKEN_TTL * 0.8)
    running.advance(TOKEN_TTL * 10, step=60.0)

    assert stats["rejected"] is True
    received = ask(running.supervisor, "messages", WAIT)
    assert len(received) == 1
    assert isinstance(received[0], Fatal)
    assert "'sim-client'" in received[0].reason
    assert "sim-secret" not in received[0].reason
    assert running.token_requests() == [200, 401]
