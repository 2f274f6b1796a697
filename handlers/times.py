"""Timestamps as canonical ISO-8601 strings.

Genesys sends times as ISO-8601 strings (``2022-07-04T20:04:12.131Z``) in
snapshots, REST documents and analytics records, and as epoch milliseconds
only in the ``eventTime`` of detail events. The merge keeps every time as
``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC, so that string order is time order and the
stored item stays plain JSON.

A time is accepted only if it is a real instant from 1970-01-01T00:00:00.000Z
to 9999-12-31T23:59:59.999Z after conversion to UTC. The lower bound keeps
epoch seconds (the ``expiresAt`` TTL) non-negative, and the upper bound keeps
the four-digit year that string order relies on.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CANONICAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", re.ASCII)
MIN_YEAR = 1970
MAX_YEAR = 9999


def canonical_time(value: object) -> str | None:
    """Return an ISO-8601 string as a canonical UTC time string, or None if it is not a time.

    Accepts any offset or precision, and reads naive strings as UTC. Returns
    None for non-strings (epoch milliseconds included, see
    ``canonical_event_time``), for impossible dates such as February 30, and
    for instants outside the years 1970 to 9999 in UTC.
    """
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if _is_canonical(value):
        # The string is canonical and a real date, so only the year range is left.
        return value if parsed.year >= MIN_YEAR else None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return format_time(parsed)
    except OverflowError:
        return None


def canonical_event_time(value: object) -> str | None:
    """Return a detail event's ``eventTime`` (epoch milliseconds or ISO-8601) as a canonical time.

    Returns None when it is neither or lies outside the accepted range.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return time_from_millis(value)
    return canonical_time(value)


def time_from_millis(millis: int) -> str | None:
    """Return epoch milliseconds as a canonical time string, or None if out of range."""
    try:
        return format_time(_EPOCH + timedelta(milliseconds=millis))
    except OverflowError:
        return None


def time_from_seconds(seconds: float) -> str:
    """Return epoch seconds as a canonical time string, or the epoch if out of range."""
    try:
        millis = round(seconds * 1000)
    except (OverflowError, ValueError):
        # Infinity or NaN, which has no millisecond value.
        millis = 0
    return time_from_millis(millis) or format_time(_EPOCH)


def epoch_seconds(time: str) -> int | None:
    """Return a time string as whole epoch seconds, rounded down, or None if it is not a time."""
    canonical = canonical_time(time)
    if canonical is None:
        return None
    parsed = datetime.fromisoformat(canonical)
    return int((parsed - _EPOCH).total_seconds() // 1)


def format_time(moment: datetime) -> str:
    """Format an aware datetime as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC.

    Raises OverflowError when the UTC instant is outside the years 1970 to
    9999, including offsets that carry it past ``datetime``'s own range.
    """
    utc = moment.astimezone(UTC)
    if not MIN_YEAR <= utc.year <= MAX_YEAR:
        raise OverflowError(f"{moment.isoformat()} is outside the years {MIN_YEAR} to {MAX_YEAR}.")
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )


def _is_canonical(value: str) -> bool:
    return _CANONICAL.fullmatch(value) is not None
