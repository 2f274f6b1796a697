"""The ``genesys-stream`` command: run, demo, state, health.

Exit codes: 0 success, 1 unhealthy or failed, 2 invalid configuration or usage.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import orjson

from genesys_stream import config as config_module
from genesys_stream import logs
from genesys_stream.config import Config, ConfigError
from stores.errors import ACCESS_ERRORS

# A health file older than this many seconds means the process stopped updating it.
HEALTH_STALE_AFTER = 60.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    flags = {setting.name: getattr(args, setting.name, None) for setting in config_module.SETTINGS}
    try:
        config = config_module.load(os.environ, flags)
    except ConfigError as exc:
        print(f"genesys-stream: {exc}", file=sys.stderr)
        return 2
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    result: int = handler(config, args)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genesys-stream",
        description="Genesys Cloud conversation events into DynamoDB (state) and SQS (events).",
    )
    commands = parser.add_subparsers(title="commands")

    run = commands.add_parser(
        "run",
        help="Run the service until SIGTERM or Ctrl-C.",
        description="Run the service. With no Genesys org configured it runs against the "
        "built-in simulator; with no table and queue it writes to the local store.",
    )
    config_module.add_arguments(run)
    run.set_defaults(handler=_run)

    demo = commands.add_parser(
        "demo",
        help="Run the simulator, the service and the local store together, then compare.",
    )
    config_module.add_arguments(demo)
    demo.add_argument("--conversations", type=int, default=200, help="Conversations to simulate.")
    demo.add_argument(
        "--speed", type=float, default=60.0, help="Simulated seconds per real second."
    )
    demo.add_argument("--seed", type=int, default=1, help="Seed of the simulated traffic.")
    demo.add_argument(
        "--faults",
        action="store_true",
        help="Inject socket drops, closes, 404 frames and maintenance warnings while it runs.",
    )
    demo.set_defaults(handler=_demo)

    state = commands.add_parser("state", help="Read conversation states from the store.")
    state_commands = state.add_subparsers(title="state commands")
    state_get = state_commands.add_parser("get", help="Print one conversation's state.")
    config_module.add_arguments(state_get)
    state_get.add_argument("conversation_id", metavar="ID")
    state_get.set_defaults(handler=_state_get)
    state_list = state_commands.add_parser("list", help="Print stored conversations.")
    config_module.add_arguments(state_list)
    state_list.add_argument("--limit", type=int, default=20, help="How many to print.")
    state_list.set_defaults(handler=_state_list)

    health = commands.add_parser(
        "health",
        help="Exit 0 when the running service is ready and healthy (container health check).",
    )
    config_module.add_arguments(health)
    health.set_defaults(handler=_health)
    return parser


def _run(config: Config, args: argparse.Namespace) -> int:
    from genesys_stream.runner import run_service

    logs.configure(config.log_level)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return run_service(config, stop)


def _demo(config: Config, args: argparse.Namespace) -> int:
    from genesys_stream.demo import run_demo

    logs.configure("WARNING")
    return run_demo(
        config,
        conversations=args.conversations,
        speed=args.speed,
        seed=args.seed,
        faults=args.faults,
    )


def _state_get(config: Config, args: argparse.Namespace) -> int:
    from genesys_stream.runner import open_state_store

    try:
        record = open_state_store(config).load(args.conversation_id)
    except ACCESS_ERRORS as exc:
        print(f"genesys-stream: could not read the store: {exc}", file=sys.stderr)
        return 1
    if record is None:
        print(
            f"genesys-stream: conversation {args.conversation_id} is not in the store.",
            file=sys.stderr,
        )
        return 1
    _print_json(record.item)
    return 0


def _state_list(config: Config, args: argparse.Namespace) -> int:
    from genesys_stream.runner import open_state_store

    if args.limit < 1:
        print(f"genesys-stream: --limit {args.limit} is invalid; use 1 or more.", file=sys.stderr)
        return 2
    try:
        records = open_state_store(config).list(limit=args.limit)
    except ACCESS_ERRORS as exc:
        print(f"genesys-stream: could not read the store: {exc}", file=sys.stderr)
        return 1
    for record in records:
        item = record.item
        summary = {
            key: item.get(key)
            for key in ("conversationId", "state", "revision", "startTime", "endTime", "mediaTypes")
        }
        sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    return 0


def _health(config: Config, args: argparse.Namespace) -> int:
    verdict, detail = check_health(config.health_file, time.time())
    _print_json({"status": verdict, **detail})
    return 0 if verdict == "healthy" else 1


def check_health(path: Path, now: float) -> tuple[str, dict[str, Any]]:
    """Read the health file the service writes; return a verdict and its details."""
    try:
        health = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return "not-ready", {"reason": f"no health file at {path}; is the service running?"}
    except (OSError, orjson.JSONDecodeError) as exc:
        return "unhealthy", {"reason": f"health file {path} is unreadable: {exc}"}
    written = health.get("time") if isinstance(health, dict) else None
    if not isinstance(written, int | float) or not math.isfinite(written):
        return "unhealthy", {"reason": f"health file {path} has no valid time; it is not ours"}
    if health.get("stopped"):
        return "not-ready", {"reason": "the service has stopped", **health}
    age = now - written
    if age > HEALTH_STALE_AFTER:
        return "unhealthy", {"reason": f"health file is {age:.0f} s old; the service is stuck"}
    if not health.get("healthy", False):
        return "unhealthy", {"reason": "a channel has been down past its budget", **health}
    if not health.get("ready", False):
        return "not-ready", {"reason": "no live channel with a permitted topic yet", **health}
    return "healthy", health


def _print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


if __name__ == "__main__":
    sys.exit(main())
