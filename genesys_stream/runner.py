"""``genesys-stream run``: configuration to a running service, until a stop signal.

With no Genesys org configured, the built-in simulator starts on loopback with
continuous traffic, and the service subscribes to its queues. With no table
and queue configured, states and events go to the local store under
``STREAM_LOCAL_DIR``.
"""

from __future__ import annotations

import logging
import sys
import threading
from dataclasses import dataclass

from genesys.regions import resolve_region
from genesys_stream.app import Service, Settings, StartupError, Stores
from genesys_stream.clock import Clock, SystemClock
from genesys_stream.config import Config
from genesys_stream.metrics import Metrics
from stores.base import StateStore
from stores.errors import ACCESS_ERRORS

log = logging.getLogger(__name__)

# Seconds between two EMF metric lines on stdout.
METRICS_INTERVAL = 60.0


@dataclass(frozen=True)
class Endpoints:
    """The Genesys Cloud base URLs and the client credentials the service uses."""

    login_url: str
    api_url: str
    client_id: str
    client_secret: str
    region_domain: str | None


def open_state_store(config: Config, clock: Clock | None = None) -> StateStore:
    """Return the state store the configuration names: DynamoDB or the local one."""
    if config.table_name is not None:
        from stores.aws import AwsSettings, dynamodb_client
        from stores.dynamodb import DynamoStateStore

        settings = AwsSettings(region=config.aws_region, max_pool_connections=20)
        return DynamoStateStore(
            dynamodb_client(settings), config.table_name, clock or SystemClock()
        )
    from stores.local import LocalStateStore

    config.local_dir.mkdir(parents=True, exist_ok=True)
    return LocalStateStore(config.local_dir / "state.sqlite3")


def build_stores(config: Config, clock: Clock) -> Stores:
    """Open every store the configuration names."""
    if config.uses_aws:
        from stores.aws import AwsSettings, dynamodb_client, s3_client, sqs_client
        from stores.dynamodb import DynamoCheckpointStore
        from stores.s3 import S3PayloadStore
        from stores.sqs import SqsEventQueue

        assert config.queue_url is not None
        settings = AwsSettings(region=config.aws_region, max_pool_connections=20)
        payloads = (
            S3PayloadStore(s3_client(settings), config.payload_bucket, clock)
            if config.payload_bucket
            else None
        )
        checkpoints = (
            DynamoCheckpointStore(dynamodb_client(settings), config.control_table_name, clock)
            if config.control_table_name
            else None
        )
        return Stores(
            states=open_state_store(config, clock),
            queue=SqsEventQueue(sqs_client(settings), config.queue_url, clock, payloads),
            checkpoints=checkpoints,
            spill_path=config.local_dir / "spill.jsonl",
            # boto3 clients are thread-safe and each write waits one round trip:
            # 16 at a time keeps a flush short (bench/README.md measures it).
            write_concurrency=16,
        )

    from stores.local import LocalCheckpointStore, LocalEventQueue

    config.local_dir.mkdir(parents=True, exist_ok=True)
    return Stores(
        states=open_state_store(config, clock),
        queue=LocalEventQueue(config.local_dir / "events.jsonl", clock),
        checkpoints=LocalCheckpointStore(config.local_dir / "state.sqlite3"),
        spill_path=config.local_dir / "spill.jsonl",
    )


def settings_for(config: Config, endpoints: Endpoints, topics: tuple[str, ...]) -> Settings:
    """Combine the configuration with the resolved endpoints and topics."""
    return Settings(
        login_url=endpoints.login_url,
        api_url=endpoints.api_url,
        client_id=endpoints.client_id,
        client_secret=endpoints.client_secret,
        topics=topics,
        forward_events=config.forward_events,
        merge_shards=config.merge_shards,
        flush_interval=config.flush_interval,
        ttl_seconds=config.state_ttl_days * 86400,
        heartbeat_silence=config.heartbeat_silence,
        pong_timeout=config.pong_timeout,
        dead_budget=config.dead_budget,
        health_file=config.health_file,
        backfill_lookback=config.backfill_lookback,
        region_domain=endpoints.region_domain,
    )


def org_endpoints(config: Config) -> Endpoints:
    """Return the configured org's endpoints: the region's hosts unless overridden."""
    region = resolve_region(config.region) if config.region else None
    login_url = config.login_url or (region.login_url if region else None)
    api_url = config.api_url or (region.api_url if region else None)
    # Configuration rejects a base URL without the other when no region is set.
    assert login_url is not None
    assert api_url is not None
    assert config.client_id is not None
    assert config.client_secret is not None
    return Endpoints(
        login_url,
        api_url,
        config.client_id,
        config.client_secret,
        region.domain if region else None,
    )


def run_service(config: Config, stop: threading.Event) -> int:
    """Run until ``stop`` is set; return the process exit code."""
    clock = SystemClock()
    metrics = Metrics()
    simulator = None
    traffic: threading.Thread | None = None

    if config.uses_simulator:
        from simulator import Simulator
        from simulator.__main__ import run_traffic
        from simulator.traffic import TrafficConfig, generate

        simulator = Simulator(clock=clock)
        simulator.start()
        endpoints = Endpoints(
            simulator.base_url,
            simulator.base_url,
            simulator.client_id,
            simulator.client_secret,
            None,
        )
        seed = 0
        org = generate(TrafficConfig(conversations=0, seed=seed, org_seed=seed)).truth
        topics = config.topic_names() or tuple(org.queue_topics())
        traffic = threading.Thread(
            target=run_traffic,
            args=(simulator, 60, 600.0, seed, stop),
            name="simulated-traffic",
            daemon=True,
        )
        log.info(
            "simulator.started",
            extra={"base_url": simulator.base_url, "queues": len(topics)},
        )
    else:
        endpoints = org_endpoints(config)
        topics = config.topic_names()

    try:
        stores = open_stores(config, clock)
        service = Service(settings_for(config, endpoints, topics), stores, clock, metrics)
        service.start()
    except StartupError as exc:
        print(f"genesys-stream: {exc}", file=sys.stderr)
        if simulator is not None:
            simulator.stop()
        return 1
    if traffic is not None:
        traffic.start()

    exit_code = 0
    next_metrics = clock.monotonic() + METRICS_INTERVAL
    try:
        while not stop.wait(1.0):
            if clock.monotonic() >= next_metrics:
                metrics.emit(clock.time())
                next_metrics += METRICS_INTERVAL
            fatal = service.fatal()
            if fatal is not None:
                print(f"genesys-stream: stopping: {fatal}", file=sys.stderr)
                exit_code = 1
                break
    finally:
        stop.set()
        backlog = service.stop()
        metrics.emit(clock.time())
        if simulator is not None:
            simulator.stop()
    if backlog and (backlog.get("states") or backlog.get("messages")):
        # Spilled messages are safe on disk; anything else was not stored.
        print(
            f"genesys-stream: stopped with undelivered work {backlog}; "
            "the next start back-fills states from the checkpoint.",
            file=sys.stderr,
        )
        exit_code = 1
    return exit_code


def open_stores(config: Config, clock: Clock) -> Stores:
    """Open the configured stores and read from each once, so a missing one stops start-up."""
    try:
        stores = build_stores(config, clock)
        stores.states.load(_PROBE_ID)
        if stores.checkpoints is not None:
            stores.checkpoints.get_checkpoint(_PROBE_ID)
    except ACCESS_ERRORS as exc:
        raise StartupError(f"Could not open the stores: {exc}") from None
    return stores


# A conversation id no conversation has: reading it checks access to the table.
_PROBE_ID = "genesys-stream-start-up-check"
