"""A SinkActor that fails is replaced; the MergeActors follow it and back-fill covers the loss."""

from pathlib import Path

from actors.messages import ChildFailed, ask, tell
from genesys_stream.clock import FakeClock
from simulator import Simulator
from simulator.traffic import TrafficConfig, generate
from tests.pipeline.harness import local_stores, running_pipeline


def test_sink_restart_loses_nothing(simulator: Simulator, clock: FakeClock, tmp_path: Path) -> None:
    scenario = generate(
        TrafficConfig(conversations=60, start=clock.time() + 5, duration=600, seed=9)
    )
    topics = tuple(scenario.truth.queue_topics())

    with running_pipeline(simulator, clock, local_stores(tmp_path, clock), topics) as pipeline:
        simulator.load(scenario)
        pipeline.run_for(300, step=5)
        old_sink = pipeline.service.sink
        assert old_sink is not None
        old_sink.stop()
        supervisor = pipeline.service.supervisor
        assert supervisor is not None
        # Frames keep arriving while no sink runs; drains would fail, so no settling.
        clock.advance(20)
        tell(supervisor, ChildFailed("sink", "stopped by the test"))
        ask(supervisor, "fatal", 10.0)
        clock.advance(2)
        ask(supervisor, "fatal", 10.0)
        pipeline.run_for(scenario.emissions[-1].at - clock.time() + 10, step=5)
        comparison = pipeline.compare(scenario)
        new_sink = pipeline.service.sink
        backfills = pipeline.service.backfill_stats()

    assert new_sink is not old_sink
    assert backfills["gaps"] >= 1
    assert comparison.missing == []
    assert comparison.differing == []
