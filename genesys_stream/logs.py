"""JSON log lines on stdout, one object per line.

Every module logs through ``logging.getLogger(__name__)`` with an event name as
the message and its fields in ``extra``::

    log.info("channel.connected", extra={"channel_id": channel_id, "topics": 12})

The formatter writes ``{"time", "level", "logger", "event", ...fields}``.
Field names that look like secrets are replaced by ``"[redacted]"`` as a last
line of defence; callers still never pass a secret.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys() | {"message", "asctime"}
)
_SECRET_FIELDS = frozenset(
    {"client_secret", "secret", "token", "access_token", "authorization", "connect_uri"}
)
# A channel id is the credential of its WebSocket (the connectUri carries nothing
# else), so logs show a stable fingerprint instead: equal ids, equal fingerprints.
_CHANNEL_FIELDS = frozenset({"channel_id", "from_channel_id", "to_channel_id"})


def channel_fingerprint(channel_id: str) -> str:
    """Return a short, stable stand-in for a channel id, safe to log."""
    return "ch-" + hashlib.blake2b(channel_id.encode(), digest_size=5).hexdigest()


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON object with its ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key in _RECORD_ATTRIBUTES or key.startswith("_"):
                continue
            lowered = key.lower()
            if lowered in _SECRET_FIELDS:
                value = "[redacted]"
            elif lowered in _CHANNEL_FIELDS and isinstance(value, str):
                value = channel_fingerprint(value)
            line[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            line["error_type"] = record.exc_info[0].__name__
            line["error"] = str(record.exc_info[1])
        return orjson.dumps(line, default=str).decode()


# Libraries whose DEBUG lines carry request paths with channel ids, or whole
# frames; they log at WARNING and above whatever the service's level.
QUIET_LIBRARIES = ("urllib3", "botocore", "boto3", "websocket", "websockets", "pykka")


def configure(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send every log record to ``stream`` (stdout by default) as JSON lines."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
