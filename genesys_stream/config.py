"""Service configuration from environment variables, with matching CLI flags.

Each setting has one environment variable and one flag (``GENESYS_QUEUE_IDS``
and ``--queue-ids``); a flag given on the command line wins. Every value is
checked once at start, and a bad one raises ``ConfigError`` naming the
variable, the value and the valid form. The client secret is never echoed.

With neither ``GENESYS_REGION`` nor a base-URL override set, the service runs
against the built-in simulator; with neither ``STREAM_TABLE_NAME`` nor
``STREAM_QUEUE_URL`` set, it writes to the embedded local store.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handlers.lifecycle import LIFECYCLE_EVENT_TYPES


class ConfigError(ValueError):
    """A configuration value is missing or invalid."""


@dataclass(frozen=True)
class Setting:
    """One configuration value: its variable, its flag and how to read it."""

    name: str
    env: str
    help: str
    parse: Callable[[str], Any]
    default: Any = None
    secret: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TOPIC = re.compile(r"^v2\.[A-Za-z0-9_.\-?&]+$")


def _text(value: str) -> str:
    return value.strip()


def _comma_list(pattern: re.Pattern[str], form: str) -> Callable[[str], tuple[str, ...]]:
    def parse(value: str) -> tuple[str, ...]:
        if value.strip() == "":
            return ()
        items = value.split(",")
        for item in items:
            if item != item.strip() or not pattern.match(item):
                raise ValueError(f"{item!r} is not {form}; write a comma list with no spaces")
        return tuple(dict.fromkeys(items))

    return parse


def _forward_events(value: str) -> frozenset[str]:
    if value == "":
        raise ValueError(
            "an empty filter would forward nothing; list one or more of "
            + ",".join(sorted(LIFECYCLE_EVENT_TYPES))
        )
    items = value.split(",")
    for item in items:
        if item not in LIFECYCLE_EVENT_TYPES:
            raise ValueError(
                f"{item!r} is not a lifecycle event type; use a comma list with no spaces of "
                + ",".join(sorted(LIFECYCLE_EVENT_TYPES))
            )
    return frozenset(items)


def _number(low: float, high: float, unit: str) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"expected a number of {unit} from {low:g} to {high:g}") from None
        if not low <= number <= high:
            raise ValueError(f"expected a number of {unit} from {low:g} to {high:g}")
        return number

    return parse


def _integer(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"expected a whole number from {low} to {high}") from None
        if not low <= number <= high:
            raise ValueError(f"expected a whole number from {low} to {high}")
        return number

    return parse


def _url(value: str) -> str:
    value = value.strip().rstrip("/")
    if not re.match(r"^https?://[^\s/]+(/\S*)?$", value):
        raise ValueError("expected an http:// or https:// URL")
    return value


def _log_level(value: str) -> str:
    level = value.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
    return level


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "region",
        "GENESYS_REGION",
        "Genesys Cloud region, as `eu-west-1` or `mypurecloud.ie`.",
        _text,
    ),
    Setting("client_id", "GENESYS_CLIENT_ID", "OAuth client id (client credentials grant).", _text),
    Setting("client_secret", "GENESYS_CLIENT_SECRET", "OAuth client secret.", _text, secret=True),
    Setting("login_url", "GENESYS_LOGIN_URL", "Override of the login base URL.", _url),
    Setting("api_url", "GENESYS_API_URL", "Override of the API base URL.", _url),
    Setting(
        "topics",
        "GENESYS_TOPICS",
        "Full topic names to subscribe to, comma-separated.",
        _comma_list(_TOPIC, "a topic name such as v2.routing.queues.<id>.conversations"),
        (),
    ),
    Setting(
        "queue_ids",
        "GENESYS_QUEUE_IDS",
        "Queue ids whose conversations to follow, comma-separated.",
        _comma_list(_UUID, "a queue id (a UUID)"),
        (),
    ),
    Setting(
        "user_ids",
        "GENESYS_USER_IDS",
        "User ids whose conversations to follow, comma-separated.",
        _comma_list(_UUID, "a user id (a UUID)"),
        (),
    ),
    Setting(
        "forward_events",
        "STREAM_FORWARD_EVENTS",
        "Lifecycle event types forwarded to the queue, comma-separated with no spaces.",
        _forward_events,
        LIFECYCLE_EVENT_TYPES,
    ),
    Setting("table_name", "STREAM_TABLE_NAME", "DynamoDB table of conversation states.", _text),
    Setting(
        "control_table_name",
        "STREAM_CONTROL_TABLE_NAME",
        "DynamoDB table of back-fill checkpoints.",
        _text,
    ),
    Setting("queue_url", "STREAM_QUEUE_URL", "SQS queue URL for forwarded events.", _url),
    Setting(
        "payload_bucket",
        "STREAM_PAYLOAD_BUCKET",
        "S3 bucket for event bodies over the queue's size limit.",
        _text,
    ),
    Setting(
        "local_dir",
        "STREAM_LOCAL_DIR",
        "Folder of the embedded store (used when no table or queue is set).",
        Path,
        Path(".genesys-stream"),
    ),
    Setting(
        "merge_shards",
        "STREAM_MERGE_SHARDS",
        "Number of merge actors (conversation shards).",
        _integer(1, 64),
        4,
    ),
    Setting(
        "flush_interval",
        "STREAM_FLUSH_INTERVAL",
        "Seconds the sink gathers updates before one write per conversation.",
        _number(0.01, 60, "seconds"),
        1.0,
    ),
    Setting(
        "state_ttl_days",
        "STREAM_STATE_TTL_DAYS",
        "Days an ended conversation stays in the table (DynamoDB TTL).",
        _integer(1, 3650),
        30,
    ),
    Setting(
        "backfill_lookback",
        "STREAM_BACKFILL_LOOKBACK",
        "Seconds of history back-filled on a first start with no checkpoint.",
        _number(0, 7 * 86400, "seconds"),
        3600.0,
    ),
    Setting(
        "heartbeat_silence",
        "STREAM_HEARTBEAT_SILENCE",
        "Seconds without any frame before the service pings the channel.",
        _number(1, 600, "seconds"),
        35.0,
    ),
    Setting(
        "pong_timeout",
        "STREAM_PONG_TIMEOUT",
        "Seconds to wait for a pong before the socket counts as dead.",
        _number(1, 120, "seconds"),
        10.0,
    ),
    Setting(
        "dead_budget",
        "STREAM_DEAD_BUDGET",
        "Seconds a channel may be down before the health check fails.",
        _number(1, 3600, "seconds"),
        120.0,
    ),
    Setting(
        "health_file",
        "STREAM_HEALTH_FILE",
        "File where the service writes its health for `genesys-stream health`.",
        Path,
        Path("/tmp/genesys-stream-health.json"),  # noqa: S108 - per-container file, no secret in it
    ),
    Setting("log_level", "STREAM_LOG_LEVEL", "DEBUG, INFO, WARNING or ERROR.", _log_level, "INFO"),
    Setting("aws_region", "AWS_REGION", "AWS region of the table, queue and bucket.", _text),
)


@dataclass(frozen=True)
class Config:
    """Validated settings of one service process."""

    region: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    login_url: str | None = None
    api_url: str | None = None
    topics: tuple[str, ...] = ()
    queue_ids: tuple[str, ...] = ()
    user_ids: tuple[str, ...] = ()
    forward_events: frozenset[str] = LIFECYCLE_EVENT_TYPES
    table_name: str | None = None
    control_table_name: str | None = None
    queue_url: str | None = None
    payload_bucket: str | None = None
    local_dir: Path = Path(".genesys-stream")
    merge_shards: int = 4
    flush_interval: float = 1.0
    state_ttl_days: int = 30
    backfill_lookback: float = 3600.0
    heartbeat_silence: float = 35.0
    pong_timeout: float = 10.0
    dead_budget: float = 120.0
    health_file: Path = Path("/tmp/genesys-stream-health.json")  # noqa: S108
    log_level: str = "INFO"
    aws_region: str | None = None

    @property
    def uses_simulator(self) -> bool:
        """True when no Genesys org is configured."""
        return self.region is None and self.api_url is None

    @property
    def uses_aws(self) -> bool:
        """True when a DynamoDB table or an SQS queue is configured."""
        return self.table_name is not None or self.queue_url is not None

    def topic_names(self) -> tuple[str, ...]:
        """Return every configured topic: explicit names, then queue and user topics."""
        names = list(self.topics)
        names += [f"v2.routing.queues.{queue_id}.conversations" for queue_id in self.queue_ids]
        names += [f"v2.users.{user_id}.conversations" for user_id in self.user_ids]
        return tuple(dict.fromkeys(names))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per setting; each defaults to "not given" so the environment applies."""
    for setting in SETTINGS:
        parser.add_argument(
            setting.flag,
            dest=setting.name,
            default=None,
            help=f"{setting.help} Environment: {setting.env}.",
            metavar="VALUE",
        )


def load(environ: Mapping[str, str], flags: Mapping[str, str | None] | None = None) -> Config:
    """Build a ``Config`` from the environment, overridden by flags that were given."""
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = (flags or {}).get(setting.name)
        source = setting.flag
        if raw is None:
            raw = environ.get(setting.env)
            source = setting.env
        if raw is None or (raw.strip() == "" and setting.name != "forward_events"):
            continue
        try:
            values[setting.name] = setting.parse(raw)
        except ValueError as exc:
            shown = "(hidden)" if setting.secret else repr(raw)
            raise ConfigError(f"{source}={shown} is invalid: {exc}.") from None
    config = Config(**values)
    _check_combinations(config)
    return config


def _check_combinations(config: Config) -> None:
    if config.region is not None:
        from genesys.errors import ConfigurationError
        from genesys.regions import resolve_region

        try:
            resolve_region(config.region)
        except ConfigurationError as exc:
            raise ConfigError(f"GENESYS_REGION={config.region!r} is invalid: {exc}") from None
    if not config.uses_simulator:
        for setting_name, env in (
            ("client_id", "GENESYS_CLIENT_ID"),
            ("client_secret", "GENESYS_CLIENT_SECRET"),
        ):
            if getattr(config, setting_name) is None:
                raise ConfigError(
                    f"{env} is missing: a Genesys Cloud org is configured, so set {env} "
                    "to the OAuth client credentials."
                )
        if not config.topic_names():
            raise ConfigError(
                "No topics are configured: set GENESYS_QUEUE_IDS, GENESYS_USER_IDS "
                "or GENESYS_TOPICS."
            )
    if config.queue_url is not None and config.table_name is None:
        raise ConfigError(
            "STREAM_QUEUE_URL is set but STREAM_TABLE_NAME is missing: "
            "set both to use AWS, or neither to use the local store."
        )
    if config.table_name is not None and config.queue_url is None:
        raise ConfigError(
            "STREAM_TABLE_NAME is set but STREAM_QUEUE_URL is missing: "
            "set both to use AWS, or neither to use the local store."
        )
