import pytest

from handlers.lifecycle import (
    EVENT_TYPES,
    ForwardFilterError,
    diff_events,
    parse_forward_filter,
)
from handlers.merge import merge
from handlers.normalize import from_analytics


def test_forward_filter_parses_list() -> None:
    selected = parse_forward_filter("conversation.ended,participant.left")

    assert selected == frozenset({"conversation.ended", "participant.left"})


def test_forward_filter_all_types() -> None:
    assert parse_forward_filter(",".join(EVENT_TYPES)) == frozenset(EVENT_TYPES)


def test_forward_filter_empty_is_error() -> None:
    with pytest.raises(ForwardFilterError, match="empty"):
        parse_forward_filter("")


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("conversation.ended, participant.left", "' participant.left'"),
        ("conversation.ended,,participant.left", "''"),
        ("conversation.*", "'conversation.*'"),
    ],
)
def test_forward_filter_names_bad_entry(text: str, bad: str) -> None:
    with pytest.raises(ForwardFilterError) as caught:
        parse_forward_filter(text)

    assert bad in str(caught.value)
    assert "conversation.started" in str(caught.value)


def test_backfilled_ended_conversation_reports_both_ends() -> None:
    record = {
        "conversationId": "c1",
        "conversationStart": "2026-01-01T10:00:00.000Z",
        "conversationEnd": "2026-01-01T10:05:00.000Z",
        "participants": [
            {
                "participantId": "p1",
                "purpose": "customer",
                "sessions": [
                    {
                        "mediaType": "voice",
                        "sessionId": "s1",
                        "segments": [
                            {
                                "segmentStart": "2026-01-01T10:00:00.000Z",
                                "segmentEnd": "2026-01-01T10:05:00.000Z",
                                "segmentType": "interact",
                                "disconnectType": "peer",
                            }
                        ],
                    }
                ],
            }
        ],
    }

    state = merge(None, from_analytics(record, 1.0)).state

    assert [e.type for e in diff_events(None, state)] == [
        "conversation.started",
        "conversation.ended",
        "participant.joined",
        "participant.left",
    ]
