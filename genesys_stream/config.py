"""Service configuration from environment variables, with matching CLI flags.

Each setting has one environment variable and one flag (``GENESYS_QUEUE_IDS``
and ``--queue-ids``); a flag given on the command line wins. Every value is
checked once at start, and a bad one raises ``ConfigError`` naming the
variable or flag, the value and the valid form. The client secret is never
echoed. Topics and the forward filter are checked by the same functions the
service uses (``handlers.topics``, ``handlers.lifecycle``).

With no ``GENESYS_REGION``, ``GENESYS_API_URL`` or ``GENESYS_LOGIN_URL``, the
service runs against the built-in simulator. With neither
``STREAM_TABLE_NAME`` nor ``STREAM_QUEUE_URL``, it writes to the embedded local
store.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genesys.errors import ConfigurationError
from genesys.regions import resolve_region
from handlers.lifecycle import LIFECYCLE_EVENT_TYPES, ForwardFilterError, parse_forward_filter
from handlers.topics import TopicError, build_topics, queue_topic, user_topic, validate_topic


class ConfigError(ValueError):
    """A configuration value is missing or invalid."""


@dataclass(frozen=True)
class Setting:
    """One configuration value: its variable, its flag and how to read it.

    ``parse`` returns the value or raises ``ValueError`` with a sentence that
    states the valid form; ``load`` adds the variable or flag and the value.
    """

    name: str
    env: str
    help: str
    parse: Callable[[str], Any]
    default: Any = None
    secret: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


# DynamoDB table names: 3 to 255 of letters, digits, '_', '-' and '.'.
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.\-]{3,255}$")
# S3 bucket names: 3 to 63 of lowercase letters, digits, '.' and '-', starting
# and ending with a letter or digit.
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
# AWS region names such as us-east-1, eu-central-2 or us-gov-west-1.
_AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")


def _text(value: str) -> str:
    return value.strip()


def _region(value: str) -> str:
    try:
        resolve_region(value)
    except ConfigurationError as exc:
        raise ValueError(str(exc)) from None
    return value.strip()


def _items(value: str) -> list[str]:
    """Split a comma list; an item with spaces around it stays as it is, for the check to reject."""
    return value.split(",")


def _topics(value: str) -> tuple[str, ...]:
    try:
        return tuple(dict.fromkeys(validate_topic(topic) for topic in _items(value)))
    except TopicError as exc:
        raise ValueError(f"{exc} Write a comma list with no spaces.") from None


def _ids(kind: str, topic: Callable[[str], str]) -> Callable[[str], tuple[str, ...]]:
    """Return a parser of a comma list of ids, each valid when its conversation topic is."""

    def parse(value: str) -> tuple[str, ...]:
        for item in _items(value):
            try:
                topic(item)
            except TopicError:
                raise ValueError(
                    f"{item!r} is not a valid {kind} id; write a comma list with no spaces of "
                    f"{kind} ids (letters, digits, '-' and '_'), such as "
                    "0e185c02-aca1-4a72-82ea-2e78684e2c89."
                ) from None
        return tuple(dict.fromkeys(_items(value)))

    return parse


def _forward_events(value: str) -> frozenset[str]:
    try:
        return parse_forward_filter(value)
    except ForwardFilterError as exc:
        raise ValueError(str(exc)) from None


def _number(low: float, high: float, unit: str) -> Callable[[str], float]:
    form = f"Use a number of {unit} from {low:g} to {high:g}."

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise ValueError(form) from None
        if not low <= number <= high:
            raise ValueError(form)
        return number

    return parse


def _integer(low: int, high: int) -> Callable[[str], int]:
    form = f"Use a whole number from {low} to {high}."

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise ValueError(form) from None
        if not low <= number <= high:
            raise ValueError(form)
        return number

    return parse


def _pattern(pattern: re.Pattern[str], form: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"Use {form}.")
        return value

    return parse


def _url(value: str) -> str:
    value = value.strip().rstrip("/")
    if not _URL.match(value):
        raise ValueError("Use an http:// or https:// URL such as https://api.mypurecloud.ie.")
    if "@" in value.split("//", 1)[-1].split("/", 1)[0]:
        raise ValueError("Remove the user name and password from the URL; the service sends none.")
    return value


def _directory(value: str) -> Path:
    path = Path(value)
    if len(value) > 1024 or any(len(part) > 255 for part in path.parts):
        raise ValueError("Use a path under 1,024 characters with names under 256.")
    if path.exists() and not path.is_dir():
        raise ValueError("The path is a file; give a folder, or a path that does not exist yet.")
    return path


def _secret(value: str) -> str:
    if value != value.strip():
        raise ValueError("Remove the spaces or line break around the secret.")
    return value


def _log_level(value: str) -> str:
    level = value.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("Use DEBUG, INFO, WARNING or ERROR.")
    return level


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "region",
        "GENESYS_REGION",
        "Genesys Cloud region, as `eu-west-1` or `mypurecloud.ie`.",
        _region,
    ),
    Setting("client_id", "GENESYS_CLIENT_ID", "OAuth client id (client credentials grant).", _text),
    Setting("client_secret", "GENESYS_CLIENT_SECRET", "OAuth client secret.", _secret, secret=True),
    Setting("login_url", "GENESYS_LOGIN_URL", "Override of the login base URL.", _url),
    Setting("api_url", "GENESYS_API_URL", "Override of the API base URL.", _url),
    Setting(
        "topics",
        "GENESYS_TOPICS",
        "Full topic names to subscribe to, comma-separated.",
        _topics,
        (),
    ),
    Setting(
        "queue_ids",
        "GENESYS_QUEUE_IDS",
        "Queue ids whose conversations to follow, comma-separated.",
        _ids("queue", queue_topic),
        (),
    ),
    Setting(
        "user_ids",
        "GENESYS_USER_IDS",
        "User ids whose conversations to follow, comma-separated.",
        _ids("user", user_topic),
        (),
    ),
    Setting(
        "forward_events",
        "STREAM_FORWARD_EVENTS",
        "Lifecycle event types forwarded to the queue, comma-separated with no spaces.",
        _forward_events,
        LIFECYCLE_EVENT_TYPES,
    ),
    Setting(
        "table_name",
        "STREAM_TABLE_NAME",
        "DynamoDB table of conversation states.",
        _pattern(_TABLE_NAME, "a DynamoDB table name: 3 to 255 letters, digits, '_', '-' or '.'"),
    ),
    Setting(
        "control_table_name",
        "STREAM_CONTROL_TABLE_NAME",
        "DynamoDB table of back-fill checkpoints.",
        _pattern(_TABLE_NAME, "a DynamoDB table name: 3 to 255 letters, digits, '_', '-' or '.'"),
    ),
    Setting("queue_url", "STREAM_QUEUE_URL", "SQS queue URL for forwarded events.", _url),
    Setting(
        "payload_bucket",
        "STREAM_PAYLOAD_BUCKET",
        "S3 bucket for event bodies over the queue's size limit.",
        _pattern(
            _BUCKET_NAME,
            "an S3 bucket name: 3 to 63 lowercase letters, digits, '.' or '-', "
            "starting and ending with a letter or digit",
        ),
    ),
    Setting(
        "local_dir",
        "STREAM_LOCAL_DIR",
        "Folder of the embedded store (used when no table or queue is set).",
        _directory,
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
    Setting(
        "aws_region",
        "AWS_REGION",
        "AWS region of the table, queue and bucket.",
        _pattern(_AWS_REGION, "an AWS region name such as eu-west-1"),
    ),
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
        """True when no Genesys org is configured: no region and no base-URL override."""
        return self.region is None and self.api_url is None and self.login_url is None

    @property
    def uses_aws(self) -> bool:
        """True when a DynamoDB table or an SQS queue is configured."""
        return self.table_name is not None or self.queue_url is not None

    def topic_names(self) -> tuple[str, ...]:
        """Return every configured topic, de-duplicated and sorted: explicit, queue and user."""
        return tuple(build_topics(self.queue_ids, self.user_ids, self.topics))


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
    """Build a ``Config`` from the environment, overridden by flags that were given.

    An empty value counts as not set, except for ``STREAM_FORWARD_EVENTS``,
    where an empty filter is an error rather than "forward nothing". Raises
    ``ConfigError`` naming the variable or flag, the value (never a secret's)
    and the valid form.
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        raw = (flags or {}).get(setting.name)
        source = setting.flag
        if raw is None:
            raw = environ.get(setting.env)
            source = setting.env
        if raw is None or (raw.strip() == "" and setting.name != "forward_events"):
            continue
        # The environment decodes undecodable bytes to lone surrogates.
        if any("\ud800" <= character <= "\udfff" for character in raw):
            value_text = "(hidden)" if setting.secret else "(not shown)"
            raise ConfigError(
                f"{source}={value_text} is invalid. The value is not valid UTF-8; "
                "set it again as UTF-8 text."
            )
        try:
            values[setting.name] = setting.parse(raw)
        except ValueError as exc:
            # A URL may carry a password before "@": show none of it.
            value_text = "(hidden)" if setting.secret or "@" in raw else repr(raw)
            raise ConfigError(f"{source}={value_text} is invalid. {exc}") from None
        sources[setting.name] = source
    config = Config(**values)
    _check_combinations(config, sources)
    if config.uses_aws and config.aws_region is None and not environ.get("AWS_DEFAULT_REGION"):
        raise ConfigError(
            "AWS_REGION is missing: STREAM_TABLE_NAME and STREAM_QUEUE_URL are set, so set "
            "AWS_REGION to the region of the table and queue, for example eu-west-1."
        )
    return config


def _check_combinations(config: Config, sources: Mapping[str, str]) -> None:
    """Reject settings that are valid alone but not together."""

    def name(setting: str) -> str:
        return sources.get(setting) or _ENV[setting]

    # A Genesys org: credentials, both base URLs and at least one topic.
    if not config.uses_simulator:
        for setting in ("client_id", "client_secret"):
            if getattr(config, setting) is None:
                raise ConfigError(
                    f"{_ENV[setting]} is missing: a Genesys Cloud org is configured, so set "
                    f"{_ENV[setting]} to the OAuth client's credentials."
                )
        if config.region is None:
            for present, absent in (("api_url", "login_url"), ("login_url", "api_url")):
                if getattr(config, absent) is None:
                    raise ConfigError(
                        f"{_ENV[absent]} is missing: {name(present)} is set without "
                        f"GENESYS_REGION, so set {_ENV[absent]} too, or set GENESYS_REGION."
                    )
        if not config.topic_names():
            raise ConfigError(
                "No topics are configured: set GENESYS_QUEUE_IDS, GENESYS_USER_IDS "
                "or GENESYS_TOPICS."
            )

    # Credentials with no org would silently run the simulator instead.
    if config.uses_simulator:
        for setting in ("client_id", "client_secret"):
            if getattr(config, setting) is not None:
                raise ConfigError(
                    f"GENESYS_REGION is missing: {name(setting)} is set, so set GENESYS_REGION "
                    "(or GENESYS_LOGIN_URL and GENESYS_API_URL) to reach the org, or unset "
                    f"{name(setting)} to run against the built-in simulator."
                )

    # AWS: the table and the queue together; the rest only with them.
    if config.queue_url is not None and config.table_name is None:
        raise ConfigError(
            f"STREAM_TABLE_NAME is missing: {name('queue_url')} is set, so set "
            "STREAM_TABLE_NAME too to use AWS, or neither to use the local store."
        )
    if config.table_name is not None and config.queue_url is None:
        raise ConfigError(
            f"STREAM_QUEUE_URL is missing: {name('table_name')} is set, so set "
            "STREAM_QUEUE_URL too to use AWS, or neither to use the local store."
        )
    for setting in ("control_table_name", "payload_bucket"):
        if getattr(config, setting) is not None and not config.uses_aws:
            raise ConfigError(
                f"{name(setting)} is set but the service writes to the local store: "
                "set STREAM_TABLE_NAME and STREAM_QUEUE_URL to use AWS, or unset it."
            )
    if config.uses_simulator and config.uses_aws:
        raise ConfigError(
            "GENESYS_REGION is missing: simulated conversations would be written to the "
            "AWS table and queue. Set GENESYS_REGION (or the base URLs) for a real org, "
            "or unset STREAM_TABLE_NAME and STREAM_QUEUE_URL to use the local store."
        )


_ENV = {setting.name: setting.env for setting in SETTINGS}


def settings_table() -> str:
    """Return the settings as a Markdown table: variable, flag, default, meaning."""
    rows = ["| variable | flag | default | meaning |", "|---|---|---|---|"]
    for setting in SETTINGS:
        rows.append(
            f"| `{setting.env}` | `{setting.flag}` | {_shown_default(setting)} | {setting.help} |"
        )
    return "\n".join(rows) + "\n"


def _shown_default(setting: Setting) -> str:
    default = setting.default
    if default is None or default == ():
        return "not set"
    if isinstance(default, frozenset):
        return "every event type"
    return f"`{default}`"
