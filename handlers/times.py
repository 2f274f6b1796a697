"""Timestamps as canonical ISO-8601 strings.

Genesys sends times as ISO-8601 strings (``2022-07-04T20:04:12.131Z``) in
snapshots and REST documents, and as epoch milliseconds (``eventTime``) in
detail events. The merge keeps every time as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` in
UTC, so that string order is time order and the stored item stays plain JSON.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CANONICAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", re.ASCII)


def canonical_time(value: object) -> str | None:
    """Return ``value`` as a canonical UTC time string, or None if it is not a time.

    Accepts ISO-8601 strings with any offset or precision and epoch milliseconds
    (int). Naive strings are read as UTC.
    """
    if isinstance(value, str):
        if _is_canonical(value):
            return value
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return format_time(parsed)
    if isinstance(value, int) and not isinstance(value, bool):
        return time_from_millis(value)
    return None


def time_from_millis(millis: int) -> str | None:
    """Return epoch milliseconds as a canonical time string, or None if out of range."""
    try:
        return format_time(_EPOCH + timedelta(milliseconds=millis))
    except OverflowError:
        return None


def time_from_seconds(seconds: float) -> str:
    """Return epoch seconds as a canonical time string."""
    return time_from_millis(round(seconds * 1000)) or format_time(_EPOCH)


def epoch_seconds(time: str) -> int:
    """Return a canonical time string as whole epoch seconds, rounded down."""
    parsed = datetime.fromisoformat(time)
    return int((parsed - _EPOCH).total_seconds() // 1)


def format_time(moment: datetime) -> str:
    """Return an aware datetime as ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _is_canonical(value: str) -> bool:
    return _CANONICAL.fullmatch(value) is not None
