"""Recovery: token renewal, start-up and gap back-fill, against the simulator on a FakeClock."""

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from genesys_stream.app import Service, Settings, StartupError
from genesys_stream.clock import FakeClock
from genesys_stream.config import Config
from genesys_stream.runner import run_service
from simulator import Simulator
from simulator.traffic import Scenario, TrafficConfig, generate
from tests.pipeline.harness import local_stores, running_pipeline

TOKEN_TTL = 600.0
ANALYTICS_PATH = "/api/v2/analytics/conversations/details/query"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def simulator(clock: FakeClock) -> Iterator[Simulator]:
    with Simulator(clock=clock, token_ttl=TOKEN_TTL) as sim:
        yield sim


def traffic(clock: FakeClock, conversations: int, duration: float, **options: object) -> Scenario:
    return generate(
        TrafficConfig(
            conversations=conversations,
            start=clock.time() + 5,
            duration=duration,
            seed=7,
            duplicate_rate=0.1,
            reorder_rate=0.1,
            **options,  # type: ignore[arg-type]
        )
    )


def until_last_emission(scenario: Scenario, clock: FakeClock, extra: float = 10.0) -> float:
    return scenario.emissions[-1].at - clock.time() + extra


def cut_off_channels(simulator: Simulator, builds: int) -> None:
    """Drop every socket and fail the next ``builds`` attempts to get a channel back.

    The client sends each channel request up to 5 times before the
    ConnectionActor backs off, so each build attempt takes 5 failures.
    """
    simulator.faults.fail_next("HEAD", "/api/v2/notifications/channels/*", count=5, status=503)
    simulator.faults.fail_next(
        "POST", "/api/v2/notifications/channels", count=5 * builds, status=503
    )
    simulator.faults.drop_sockets()


def test_token_rotation_leaves_no_gap(
    simulator: Simulator, clock: FakeClock, tmp_path: Path
) -> None:
    """Five token lifetimes: each renewal rotates the channel before the old token expires."""
    scenario = traffic(clock, conversations=150, duration=TOKEN_TTL * 5)
    stores = local_stores(tmp_path, clock)
    topics = tuple(scenario.truth.queue_topics())

    with running_pipeline(simulator, clock, stores, topics) as pipeline:
        simulator.load(scenario)
        pipeline.run_for(until_last_emission(scenario, clock), step=5.0)
        comparison = pipeline.compare(scenario)
        totals = pipeline.totals()
        renewals = pipeline.service.token_stats()["renewals"]

    assert renewals >= 5
    assert totals["ChannelRotations"] >= 5
    assert totals["Gaps"] == 0
    assert totals["Reconnects"] == 0
    assert simulator.faults.counts == {}
    assert comparison.missing == []
    assert comparison.differing == []


def test_bad_credentials_stop_startup(
    simulator: Simulator, clock: FakeClock, tmp_path: Path
) -> None:
    settings = Settings(
        login_url=simulator.base_url,
        api_url=simulator.base_url,
        client_id="other-client",
        client_secret="other-secret-value",
        topics=("v2.routing.queues.q.conversations",),
    )
    service = Service(settings, local_stores(tmp_path, clock), clock)

    with pytest.raises(StartupError) as raised:
        service.start()

    assert "'other-client'" in str(raised.value)
    assert "other-secret-value" not in str(raised.value)
    token_requests = [r for r in simulator.requests if r.path == "/oauth/token"]
    assert [r.status for r in token_requests] == [401]


def test_run_exits_on_bad_credentials(
    simulator: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = Config(
        login_url=simulator.base_url,
        api_url=simulator.base_url,
        client_id="other-client",
        client_secret="other-secret-value",
        topics=("v2.routing.queues.q.conversations",),
        local_dir=tmp_path / "store",
        health_file=tmp_path / "health.json",
    )
    code = run_service(config, threading.Event())

    stderr = capsys.readouterr().err
    assert code == 1
    assert "'other-client'" in stderr
    assert "other-secret-value" not in stderr


def test_revoked_credentials_stop_service(
    simulator: Simulator, clock: FakeClock, tmp_path: Path
) -> None:
    scenario = traffic(clock, conversations=5, duration=60)
    stores = local_stores(tmp_path, clock)
    topics = tuple(scenario.truth.queue_topics())

    with running_pipeline(simulator, clock, stores, topics) as pipeline:
        simulator.faults.fail_next("POST", "/oauth/token", count=1, status=401)
        pipeline.run_for(TOKEN_TTL, step=10.0)
        fatal = pipeline.service.fatal()
        token_requests = [r.status for r in simulator.requests if r.path == "/oauth/token"]

    assert fatal is not None
    assert "'sim-client'" in fatal
    assert "sim-secret" not in fatal
    assert token_requests == [200, 401]


def test_startup_backfills_active_conversations(
    simulator: Simulator, clock: FakeClock, tmp_path: Path
) -> None:
    """Conversations connected before start, silent for minutes, are stored at once."""
    scenario = traffic(clock, conversations=0, duration=0, already_active=6)
    stores = local_stores(tmp_path, clock)
    topics = tuple(scenario.truth.queue_topics())
    simulator.load(scenario)

    with running_pipeline(simulator, clock, stores, topics, backfill_lookback=1800.0) as pipeline:
        pipeline.run_for(5.0)
        checked_at = clock.time()
        stored_early = [
            conversation_id
            for conversation_id in scenario.truth.conversation_ids()
            if stores.states.load(conversation_id) is not None
        ]
        pipeline.run_for(until_last_emission(scenario, clock), step=5.0)
        comparison = pipeline.compare(scenario)
        list_requests = [r for r in simulator.requests if r.path == "/api/v2/conversations"]

    assert checked_at < scenario.emissions[0].at
    assert stored_early == scenario.truth.conversation_ids()
    assert list_requests == []
    assert comparison.missing == []
    assert comparison.differing == []


def test_gap_is_backfilled(simulator: Simulator, clock: FakeClock, tmp_path: Path) -> None:
    """Conversations that end while no socket is open are stored as ended."""
    scenario = traffic(clock, conversations=120, duration=300)
    stores = local_stores(tmp_path, clock)
    topics = tuple(scenario.truth.queue_topics())

    with running_pipeline(simulator, clock, stores, topics) as pipeline:
        simulator.load(scenario)
        pipeline.run_for(200.0, step=5.0)
        # Frames written to the dropped sockets are never read: wait briefly for them.
        pipeline.read_timeout = 0.3
        cut_off_channels(simulator, builds=3)
        pipeline.run_for(until_last_emission(scenario, clock), step=2.0)
        comparison = pipeline.compare(scenario)
        totals = pipeline.totals()
        stats = pipeline.service.backfill_stats()

    assert totals["Gaps"] >= 1
    assert stats["longest_gap"] >= 10.0
    assert totals["BackfilledConversations"] > 0
    assert comparison.missing == []
    assert comparison.differing == []


def test_backfill_failures_are_retried(
    simulator: Simulator, clock: FakeClock, tmp_path: Path
) -> None:
    scenario = traffic(clock, conversations=120, duration=300)
    stores = local_stores(tmp_path, clock)
    topics = tuple(scenario.truth.queue_topics())

    with running_pipeline(simulator, clock, stores, topics) as pipeline:
        simulator.load(scenario)
        pipeline.run_for(200.0, step=5.0)
        # Frames written to the dropped sockets are never read: wait briefly for them.
        pipeline.read_timeout = 0.3
        simulator.faults.fail_next("POST", ANALYTICS_PATH, count=3, status=503)
        cut_off_channels(simulator, builds=3)
        pipeline.run_for(until_last_emission(scenario, clock), step=2.0)
        comparison = pipeline.compare(scenario)
        totals = pipeline.totals()
        stats = pipeline.service.backfill_stats()
        analytics = [r.status for r in simulator.requests if r.path == ANALYTICS_PATH]

    assert totals["BackfillFailures"] == 3
    assert stats["failures"] == 3
    assert analytics[:4] == [503, 503, 503, 200]
    assert stats["gaps"] >= 1
    assert comparison.missing == []
    assert comparison.differing == []


def test_restart_backfills_from_checkpoint(
    simulator: Simulator, clock: FakeClock, tmp_path: Path
) -> None:
    """A restart back-fills from the stored checkpoint what ended while the service was down."""
    scenario = traffic(clock, conversations=120, duration=300)
    topics = tuple(scenario.truth.queue_topics())
    simulator.load(scenario)

    with running_pipeline(simulator, clock, local_stores(tmp_path, clock), topics) as pipeline:
        pipeline.run_for(150.0, step=5.0)
    clock.advance(120.0)
    stores = local_stores(tmp_path, clock)
    with running_pipeline(simulator, clock, stores, topics) as pipeline:
        # NOTE: after the restart some steps find frames counted as sent that no
        # reader ever reads; a short wait keeps each such step cheap.
        pipeline.read_timeout = 0.3
        pipeline.run_for(until_last_emission(scenario, clock), step=5.0)
        comparison = pipeline.compare(scenario)
        stats = pipeline.service.backfill_stats()

    assert stats["gaps"] == 1
    assert stats["longest_gap"] >= 120.0
    assert comparison.missing == []
    assert comparison.differing == []
