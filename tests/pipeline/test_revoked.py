"""A revoked token: the channel goes with it, and the service renews at once."""

from pathlib import Path

from genesys_stream.clock import FakeClock
from simulator import Simulator
from simulator.traffic import TrafficConfig, generate
from tests.pipeline.harness import local_stores, running_pipeline


def test_revoked_token_renewed_at_once(
    simulator: Simulator, clock: FakeClock, tmp_path: Path
) -> None:
    """Tokens last a day here, so only a renewal on revocation brings the channel back."""
    scenario = generate(
        TrafficConfig(conversations=40, start=clock.time() + 5, duration=300, seed=4)
    )
    topics = tuple(scenario.truth.queue_topics())

    with running_pipeline(simulator, clock, local_stores(tmp_path, clock), topics) as pipeline:
        simulator.load(scenario)
        pipeline.run_for(60, step=5)
        simulator.faults.revoke_tokens()
        pipeline.run_for(scenario.emissions[-1].at - clock.time() + 10, step=5)
        comparison = pipeline.compare(scenario)
        renewals = pipeline.service.token_stats()["renewals"]
        health = pipeline.service.health()

    assert renewals >= 1
    assert health["ready"] is True
    assert comparison.missing == []
    assert comparison.differing == []
