"""``genesys-stream demo``: simulator, service and local store in one process.

The simulated org and the service share a clock that runs ``speed`` times
faster than real time, so minutes of contact-center traffic pass in seconds.
At the end every conversation's stored state is compared with the
simulator's truth, and the summary reports how many match.
"""

from __future__ import annotations

import random
import shutil
import sys
import threading
import time
from collections import Counter
from dataclasses import replace
from typing import TextIO

from genesys_stream.app import Service, StartupError
from genesys_stream.clock import ScaledClock
from genesys_stream.config import Config
from genesys_stream.metrics import Metrics
from genesys_stream.runner import Endpoints, build_stores, settings_for
from genesys_stream.verify import compare
from simulator import Simulator
from simulator.traffic import TrafficConfig, generate

# Simulated seconds after the last emission before the comparison: enough for
# a reconnect, its back-fill and the last flush.
SETTLE_SECONDS = 180.0
# Simulated seconds between two injected faults, on average.
FAULT_INTERVAL = 120.0


def run_demo(
    config: Config,
    *,
    conversations: int,
    speed: float,
    seed: int,
    faults: bool,
    out: TextIO = sys.stdout,
) -> int:
    """Run the demonstration; return 0 when every stored state matches the truth."""
    if conversations < 1:
        print(
            f"genesys-stream: --conversations {conversations} is invalid; use 1 or more.",
            file=sys.stderr,
        )
        return 2
    if not 1 <= speed <= 1000:
        print(f"genesys-stream: --speed {speed:g} is invalid; use 1 to 1000.", file=sys.stderr)
        return 2

    clock = ScaledClock(speed)
    directory = config.local_dir / "demo"
    shutil.rmtree(directory, ignore_errors=True)
    demo_config = replace(config, local_dir=directory, health_file=directory / "health.json")

    # Step 1: the simulated org and its traffic, starting a little after now.
    simulator = Simulator(clock=clock)
    simulator.start()
    scenario = generate(
        TrafficConfig(
            conversations=conversations,
            start=clock.time() + 5.0,
            duration=max(60.0, conversations * 1.5),
            seed=seed,
            duplicate_rate=0.1,
            reorder_rate=0.1,
        )
    )
    last_emission = scenario.emissions[-1].at if scenario.emissions else clock.time()
    topics = tuple(scenario.truth.queue_topics())

    # Step 2: the service on the local store, subscribed to every simulated queue.
    metrics = Metrics()
    endpoints = Endpoints(
        simulator.base_url,
        simulator.base_url,
        simulator.client_id,
        simulator.client_secret,
        None,
    )
    settings = settings_for(demo_config, endpoints, topics)
    settings.backfill_lookback = 0.0
    stores = build_stores(demo_config, clock)
    service = Service(settings, stores, clock, metrics)
    print(
        f"Simulating {conversations} conversations on {len(topics)} queues "
        f"at {speed:g}x real time; store in {directory}",
        file=out,
    )
    try:
        service.start()
    except StartupError as exc:
        print(f"genesys-stream: {exc}", file=sys.stderr)
        simulator.stop()
        return 1
    simulator.load(scenario)

    # Step 3: run until the traffic is over, showing progress and injecting faults.
    stop_faults = threading.Event()
    injected: Counter[str] = Counter()
    injector = None
    if faults:
        injector = threading.Thread(
            target=_inject_faults,
            args=(simulator, clock, random.Random(seed), injected, stop_faults),
            name="demo-faults",
            daemon=True,
        )
        injector.start()
    started = time.monotonic()
    try:
        while clock.time() < last_emission + SETTLE_SECONDS:
            if clock.time() > last_emission:
                stop_faults.set()
            totals = metrics.totals()
            print(
                f"  {time.monotonic() - started:5.1f} s  frames {int(totals['EventsIn']):>7,}  "
                f"changes {int(totals['EventsMerged']):>7,}  "
                f"forwarded {int(totals['EventsForwarded']):>7,}  "
                f"faults {sum(injected.values()):>3}",
                file=out,
                flush=True,
            )
            time.sleep(1.0)
        stop_faults.set()
        service.drain(timeout=30.0)
        comparison = compare(scenario.truth, stores.states, scenario.truth.conversation_ids())
        totals = metrics.totals()
    finally:
        stop_faults.set()
        service.stop()
        simulator.stop()

    # Step 4: the summary.
    print("", file=out)
    print("Summary", file=out)
    print(f"  conversations simulated        {comparison.total:>8,}", file=out)
    print(
        f"  conversations stored           {comparison.total - len(comparison.missing):>8,}",
        file=out,
    )
    print(f"  frames received                {int(totals['EventsIn']):>8,}", file=out)
    print(f"  events merged (state changes)  {int(totals['EventsMerged']):>8,}", file=out)
    print(f"  events forwarded               {int(totals['EventsForwarded']):>8,}", file=out)
    print(f"  reconnects                     {int(totals['Reconnects']):>8,}", file=out)
    print(f"  gaps back-filled               {int(totals['Gaps']):>8,}", file=out)
    if faults:
        listed = ", ".join(f"{kind} {count}" for kind, count in sorted(injected.items()))
        print(
            f"  faults injected                {sum(injected.values()):>8,}  ({listed})", file=out
        )
    print(
        f"  states matching the truth      {len(comparison.matched):>8,} of {comparison.total:,}",
        file=out,
    )
    if not comparison.all_match:
        print(
            f"  differing: {comparison.differing[:5]}  missing: {comparison.missing[:5]}",
            file=out,
        )
        return 1
    print("Every stored conversation state matches the simulator's truth.", file=out)
    return 0


def _inject_faults(
    simulator: Simulator,
    clock: ScaledClock,
    rng: random.Random,
    injected: Counter[str],
    stop: threading.Event,
) -> None:
    """Inject one random fault every ``FAULT_INTERVAL`` simulated seconds on average."""
    kinds = ["drop", "close_1001", "not_found", "socket_closing"]
    while not stop.is_set():
        delay = rng.expovariate(1.0 / FAULT_INTERVAL)
        if stop.wait(delay / clock.speed):
            return
        kind = rng.choice(kinds)
        injected[kind] += 1
        if kind == "drop":
            simulator.faults.drop_sockets()
        elif kind == "close_1001":
            simulator.faults.close_sockets(1001)
        elif kind == "not_found":
            simulator.faults.send_404()
        else:
            simulator.faults.send_socket_closing(close_after=55.0)
