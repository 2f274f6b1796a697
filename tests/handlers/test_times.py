"""Timestamps: canonical form, range, and invalid values through the whole pipeline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.merge import merge
from handlers.normalize import from_analytics, from_detail, from_snapshot
from handlers.records import encode_message, encode_state, validate_message
from handlers.state import TIME_KEYS, ConversationState
from handlers.times import (
    canonical_event_time,
    canonical_time,
    epoch_seconds,
    format_time,
    time_from_millis,
    time_from_seconds,
)

INVALID_TIMES = [
    "2026-02-30T10:00:00.000Z",
    "2026-13-45T99:99:99.000Z",
    "0999-01-01T00:00:00.000Z",
    "0999-06-01T00:00:00Z",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "1969-12-31T23:59:59.999Z",
]


def test_canonical_time_range_bounds() -> None:
    assert canonical_time("2022-07-04T20:04:12.131Z") == "2022-07-04T20:04:12.131Z"
    assert canonical_time("2022-07-04T22:04:12.131456+02:00") == "2022-07-04T20:04:12.131Z"
    assert canonical_time("2022-07-04T20:04:12") == "2022-07-04T20:04:12.000Z"
    assert canonical_time("1970-01-01T00:00:00.000Z") == "1970-01-01T00:00:00.000Z"
    assert canonical_time("9999-12-31T23:59:59.999Z") == "9999-12-31T23:59:59.999Z"
    assert canonical_time("1969-12-31T20:00:00-05:00") == "1970-01-01T01:00:00.000Z"
    assert canonical_time("1969-12-31T23:59:59.999Z") is None
    assert canonical_time("1970-01-01T00:59:59+01:00") is None


@pytest.mark.parametrize("raw", INVALID_TIMES)
def test_canonical_time_rejects_invalid(raw: str) -> None:
    assert canonical_time(raw) is None
    assert canonical_event_time(raw) is None
    assert epoch_seconds(raw) is None


def test_canonical_time_rejects_integers() -> None:
    assert canonical_time(12345) is None
    assert canonical_time(1_700_000_000_000) is None
    assert canonical_time(True) is None


def test_event_time_accepts_millis() -> None:
    assert canonical_event_time(12345) == "1970-01-01T00:00:12.345Z"
    assert canonical_event_time("2022-07-04T20:04:12.131Z") == "2022-07-04T20:04:12.131Z"
    assert canonical_event_time(-1) is None
    assert canonical_event_time(10**20) is None
    assert canonical_event_time(True) is None


def test_millis_and_seconds_range() -> None:
    assert time_from_millis(0) == "1970-01-01T00:00:00.000Z"
    assert time_from_millis(-1) is None
    assert time_from_millis(253_402_300_800_000) is None
    assert time_from_seconds(float("nan")) == "1970-01-01T00:00:00.000Z"
    assert time_from_seconds(float("inf")) == "1970-01-01T00:00:00.000Z"


def test_format_time_rejects_early_years() -> None:
    with pytest.raises(OverflowError, match="outside the years 1970 to 9999"):
        format_time(datetime(999, 1, 1, tzinfo=UTC))
    assert format_time(datetime(1970, 1, 1, tzinfo=UTC)) == "1970-01-01T00:00:00.000Z"


def snapshot(participant_end: object = None, communication_time: object = None) -> dict[str, Any]:
    communication: dict[str, Any] = {"id": "s1", "state": "disconnected"}
    if communication_time is not None:
        communication["disconnectedTime"] = communication_time
        communication["connectedTime"] = communication_time
    participant: dict[str, Any] = {"id": "p1", "purpose": "customer", "calls": [communication]}
    if participant_end is not None:
        participant["endTime"] = participant_end
    return {"id": "c1", "participants": [participant]}


def encode_all(state: ConversationState, observation: Any, events: list[Any]) -> list[bytes]:
    encode_state(state, updated_at=1_800_000_000.0, ttl_seconds=60)
    return [encode_message(event, state, observation, 1.0).body for event in events]


@pytest.mark.parametrize("raw", INVALID_TIMES)
def test_invalid_time_counted_not_raised(raw: str) -> None:
    observation = from_snapshot(snapshot(raw, raw), 1.0)

    result = merge(None, observation)
    record = encode_state(result.state, updated_at=1_800_000_000.0, ttl_seconds=60)
    bodies = encode_all(result.state, observation, result.events)

    assert result.surprises >= 1
    assert "endTime" not in result.state.participants["p1"].times
    assert record.item["endTime"] is None
    assert record.item["expiresAt"] == 1_800_000_060
    for body in bodies:
        assert validate_message(orjson.loads(body)) == []


def test_integer_end_time_ignored() -> None:
    observation = from_snapshot(snapshot(12345, "2026-03-02T09:00:00.000Z"), 1.0)

    result = merge(None, observation)
    record = encode_state(result.state, updated_at=1_800_000_000.0, ttl_seconds=60)

    assert "participants[].endTime" in observation.report.paths
    assert "endTime" not in result.state.participants["p1"].times
    assert record.item["endTime"] == "2026-03-02T09:00:00.000Z"
    assert record.item["expiresAt"] == epoch_seconds("2026-03-02T09:00:00.000Z") + 60


def test_integer_communication_time_ignored() -> None:
    observation = from_snapshot(snapshot(None, 12345), 1.0)

    result = merge(None, observation)

    assert "participants[].calls[].connectedTime" in observation.report.paths
    assert result.state.participants["p1"].communications[("voice", "s1")].times == {}


def test_integer_hold_time_counted() -> None:
    body = snapshot(None, "2026-03-02T09:00:00.000Z")
    body["participants"][0]["calls"][0]["startHoldTime"] = 99_999_999_999_999

    observation = from_snapshot(body, 1.0)

    assert "participants[].calls[].startHoldTime" in observation.report.paths
    assert observation.stamp == (0, "2026-03-02T09:00:00.000Z")


def test_detail_impossible_event_time_counted() -> None:
    body = {"eventTime": "2026-02-30T10:00:00.000Z", "participantId": "p1", "sessionId": "s1"}
    observation = from_detail(body, "customer.end", 1.0, conversation_id="c1")

    result = merge(None, observation)
    bodies = encode_all(result.state, observation, result.events)

    assert observation.event_time is None
    assert "detail.eventTime" in observation.report.paths
    assert len(bodies) == len(result.events)


def test_analytics_integer_times_counted() -> None:
    record = {
        "conversationId": "c1",
        "conversationStart": 12345,
        "conversationEnd": "2026-02-30T10:00:00.000Z",
        "participants": [
            {
                "participantId": "p1",
                "purpose": "customer",
                "sessions": [
                    {
                        "sessionId": "s1",
                        "mediaType": "voice",
                        "segments": [{"segmentStart": 12345, "segmentType": "interact"}],
                    }
                ],
            }
        ],
    }
    observation = from_analytics(record, 1.0)

    result = merge(None, observation)
    encode_all(result.state, observation, result.events)

    assert "conversationStart" in observation.report.paths
    assert "conversationEnd" in observation.report.paths
    assert "participants[].sessions[].segments[].segmentStart" in observation.report.paths
    assert result.state.times == {}


TIME_VALUES = st.one_of(
    st.text(max_size=40),
    st.integers(),
    st.builds(
        "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}".format,
        st.integers(0, 9999),
        st.integers(0, 99),
        st.integers(0, 99),
        st.integers(0, 99),
        st.integers(0, 99),
        st.integers(0, 99),
        st.sampled_from(["Z", ".000Z", "+05:00", "-05:00", "+23:59", ""]),
    ),
)
TIME_FIELDS = st.dictionaries(st.sampled_from(sorted(TIME_KEYS)), TIME_VALUES, max_size=4)


@settings(max_examples=200, deadline=None)
@given(
    participant_times=TIME_FIELDS,
    communication_times=TIME_FIELDS,
    hold=TIME_VALUES,
    event_time=TIME_VALUES,
)
def test_any_time_merges_and_encodes(
    participant_times: dict[str, Any],
    communication_times: dict[str, Any],
    hold: Any,
    event_time: Any,
) -> None:
    communication = {"id": "s1", "state": "connected", "startHoldTime": hold}
    communication.update(communication_times)
    participant = {"id": "p1", "purpose": "customer", "calls": [communication]}
    participant.update(participant_times)
    first = from_snapshot({"id": "c1", "participants": [participant]}, 1.0)
    detail = {"eventTime": event_time, "participantId": "p2", "sessionId": "s2"}
    second = from_detail({**detail, "conversationId": "c1"}, "customer.end", 2.0)

    state = None
    for observation in (first, second):
        result = merge(state, observation)
        state = result.state
        bodies = encode_all(state, observation, result.events)
        for body in bodies:
            assert validate_message(orjson.loads(body)) == []
