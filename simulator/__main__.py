"""Run the simulated org alone, on real time: ``python -m simulator``.

Prints one JSON line on stdout with the URLs and the throwaway client
credentials, then generates conversation traffic window after window until
Ctrl-C or SIGTERM. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from genesys_stream import logs
from genesys_stream.clock import SystemClock
from simulator.server import CombinedTruth, EmissionLike, Simulator, TruthSource

log = logging.getLogger("simulator.main")  # __name__ is "__main__" when run with -m

# Seconds before a traffic window ends at which the next one is generated and loaded.
_WINDOW_LEAD = 30.0
# Number of recent windows whose conversations the REST and analytics routes return.
_WINDOWS_KEPT = 3


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="Serve a simulated Genesys Cloud org on 127.0.0.1.",
    )

    parser.add_argument("--http-port", type=int, default=0, help="HTTP port (0: any free port).")
    parser.add_argument("--ws-port", type=int, default=0, help="WebSocket port (0: any free port).")
    parser.add_argument("--client-id", default="sim-client", help="OAuth client id to accept.")
    parser.add_argument("--client-secret", default="sim-secret", help="OAuth secret to accept.")

    parser.add_argument(
        "--token-ttl", type=float, default=86400.0, help="Token lifetime in seconds."
    )
    parser.add_argument(
        "--heartbeat-interval", type=float, default=30.0, help="Seconds between heartbeats."
    )
    parser.add_argument(
        "--api-rate-limit",
        type=int,
        default=None,
        help="API requests per token per minute before 429 (default: no limit).",
    )

    parser.add_argument(
        "--conversations",
        type=int,
        default=60,
        help="Conversations started per traffic window (0: no traffic).",
    )
    parser.add_argument(
        "--window", type=float, default=600.0, help="Length of a traffic window in seconds."
    )
    parser.add_argument("--seed", type=int, default=0, help="Seed of the first traffic window.")
    parser.add_argument("--log-level", default="INFO", help="Log level: DEBUG, INFO, WARNING.")

    args = parser.parse_args(argv)
    if args.window <= _WINDOW_LEAD:
        parser.error(f"--window must be more than {_WINDOW_LEAD} seconds, not {args.window}.")
    if args.conversations < 0:
        parser.error(f"--conversations must be 0 or more, not {args.conversations}.")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # Logs go to stderr, so stdout carries only the line with the endpoints.
    logs.configure(args.log_level, stream=sys.stderr)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    clock = SystemClock()
    sim = Simulator(
        clock=clock,
        client_id=args.client_id,
        client_secret=args.client_secret,
        token_ttl=args.token_ttl,
        heartbeat_interval=args.heartbeat_interval,
        api_rate_limit=args.api_rate_limit,
        http_port=args.http_port,
        ws_port=args.ws_port,
    )
    with sim:
        endpoints = {
            "base_url": sim.base_url,
            "login_url": sim.base_url,
            "api_url": sim.base_url,
            "ws_url": sim.ws_url,
            "client_id": sim.client_id,
            "client_secret": sim.client_secret,
        }
        print(json.dumps(endpoints), flush=True)
        if args.conversations > 0:
            run_traffic(sim, args.conversations, args.window, args.seed, stop)
        else:
            stop.wait()
    return 0


def run_traffic(
    sim: Simulator, conversations: int, window_seconds: float, seed: int, stop: threading.Event
) -> None:
    """Generate and load one traffic window after another until ``stop`` is set.

    Each window starts ``conversations`` conversations over ``window_seconds``.
    """
    try:
        from simulator.traffic import TrafficConfig, generate
    except ImportError:
        log.warning("traffic.unavailable", extra={"traffic_module": "simulator.traffic"})
        stop.wait()
        return

    # Every window keeps the org of the first (its queues and agents), so a
    # service subscribed at start keeps seeing traffic. The truths of the last
    # windows are served together.
    truths: collections.deque[TruthSource] = collections.deque(maxlen=_WINDOWS_KEPT)
    start = sim.clock.time() + 1.0
    window = 0
    while not stop.is_set():
        config = TrafficConfig(
            conversations=conversations,
            start=start,
            duration=window_seconds,
            seed=seed + window,
            org_seed=seed,
        )
        scenario = generate(config)
        truths.append(scenario.truth)
        sim.load(_Window(scenario.emissions, CombinedTruth(list(truths))), keep_pending=True)
        log.info(
            "traffic.window_loaded",
            extra={"window": window, "emissions": len(scenario.emissions), "start": start},
        )
        start += window_seconds
        window += 1
        stop.wait(max(0.0, start - _WINDOW_LEAD - sim.clock.time()))


class _Window:
    """A scenario whose truth also covers the windows before it."""

    def __init__(self, emissions: Sequence[EmissionLike], truth: TruthSource) -> None:
        self.emissions = emissions
        self.truth = truth


if __name__ == "__main__":
    sys.exit(main())
