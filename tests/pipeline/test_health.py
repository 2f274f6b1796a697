"""Health: the file the HeartbeatActor writes, as `genesys-stream health` judges it."""

from pathlib import Path

from genesys_stream.cli import check_health
from genesys_stream.clock import FakeClock
from simulator import Simulator
from tests.pipeline.harness import Pipeline, local_stores, running_pipeline

TOPICS = ("v2.routing.queues.6c3a1f0e-5b7d-4e8a-9f21-0d4c8b7a6e51.conversations",)
DEAD_BUDGET = 60.0
CHANNELS_PATH = "/api/v2/notifications/channels"


def verdict(pipeline: Pipeline, health_file: Path) -> str:
    result, _ = check_health(health_file, pipeline.clock.time())
    return result


def test_live_channel_is_healthy(tmp_path: Path) -> None:
    clock = FakeClock()
    health_file = tmp_path / "health.json"
    with (
        Simulator(clock=clock) as simulator,
        running_pipeline(
            simulator, clock, local_stores(tmp_path, clock), TOPICS, health_file=health_file
        ) as pipeline,
    ):
        pipeline.step(5.0)
        result = verdict(pipeline, health_file)

    assert result == "healthy"


def test_no_permitted_topic_is_not_ready(tmp_path: Path) -> None:
    clock = FakeClock()
    health_file = tmp_path / "health.json"
    with (
        Simulator(clock=clock, rejected_topics=lambda topic: True) as simulator,
        running_pipeline(
            simulator, clock, local_stores(tmp_path, clock), TOPICS, health_file=health_file
        ) as pipeline,
    ):
        pipeline.step(5.0)
        result = verdict(pipeline, health_file)

    assert result == "not-ready"


def test_failing_subscriptions_are_not_ready(tmp_path: Path) -> None:
    """The socket is open but the topics never get subscribed: not ready, then unhealthy."""
    clock = FakeClock()
    health_file = tmp_path / "health.json"
    with Simulator(clock=clock) as simulator:
        simulator.faults.fail_next("PUT", CHANNELS_PATH + "/*/subscriptions", count=10_000)
        with running_pipeline(
            simulator,
            clock,
            local_stores(tmp_path, clock),
            TOPICS,
            health_file=health_file,
            dead_budget=DEAD_BUDGET,
        ) as pipeline:
            pipeline.step(5.0)
            within_budget = verdict(pipeline, health_file)
            pipeline.run_for(DEAD_BUDGET * 2, step=5.0)
            past_budget = verdict(pipeline, health_file)

    assert within_budget == "not-ready"
    assert past_budget == "unhealthy"


def test_dead_channel_past_budget_is_unhealthy(tmp_path: Path) -> None:
    clock = FakeClock()
    health_file = tmp_path / "health.json"
    with (
        Simulator(clock=clock) as simulator,
        running_pipeline(
            simulator,
            clock,
            local_stores(tmp_path, clock),
            TOPICS,
            health_file=health_file,
            dead_budget=DEAD_BUDGET,
        ) as pipeline,
    ):
        pipeline.step(5.0)
        before = verdict(pipeline, health_file)
        simulator.faults.fail_next("HEAD", CHANNELS_PATH + "/*", count=10_000)
        simulator.faults.fail_next("POST", CHANNELS_PATH, count=10_000)
        simulator.faults.drop_sockets()
        pipeline.step(DEAD_BUDGET / 2)
        within_budget = verdict(pipeline, health_file)
        pipeline.run_for(DEAD_BUDGET * 2, step=5.0)
        past_budget = verdict(pipeline, health_file)

    assert before == "healthy"
    assert within_budget == "not-ready"
    assert past_budget == "unhealthy"
