"""JSON log lines on stdout, one object per line.

Every module logs through ``logging.getLogger(__name__)`` with an event name as
the message and its fields in ``extra``::

    log.info("channel.connected", extra={"channel_id": channel_id, "topics": 12})

The formatter writes ``{"time", "level", "logger", "event", ...fields}``.
Field names that look like secrets are replaced by ``"[redacted]"`` as a last
line of defence; callers still never pass a secret.
"""

from __future__ import annotations

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
            line[key] = "[redacted]" if key.lower() in _SECRET_FIELDS else value
        if record.exc_info and record.exc_info[0] is not None:
            line["error_type"] = record.exc_info[0].__name__
            line["error"] = str(record.exc_info[1])
        return orjson.dumps(line, default=str).decode()


def configure(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send every log record to ``stream`` (stdout by default) as JSON lines."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
