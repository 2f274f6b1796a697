import pytest

from handlers.topics import (
    TopicError,
    build_topics,
    queue_topic,
    shard_of,
    split_topics,
    user_topic,
    validate_topic,
)


def test_queue_and_user_topics() -> None:
    assert queue_topic("q-1") == "v2.routing.queues.q-1.conversations"
    assert user_topic("u_1", "calls") == "v2.users.u_1.conversations.calls"


def test_build_topics_deduplicates_and_sorts() -> None:
    topics = build_topics(
        queue_ids=["q2", "q1", "q1"],
        user_ids=["u1"],
        topics=["v2.routing.queues.q1.conversations", "v2.detail.events.conversation.c1.acw"],
    )

    assert topics == [
        "v2.detail.events.conversation.c1.acw",
        "v2.routing.queues.q1.conversations",
        "v2.routing.queues.q2.conversations",
        "v2.users.u1.conversations",
    ]


@pytest.mark.parametrize(
    "topic",
    [
        "v2.users.u1.presence",
        "v2.routing.queues.q1.conversations.faxes",
        "v2.routing.queues..conversations",
        "v2.users.u1?conversations&calls",
        "v2.routing.queues.q1?presence",
        "v2.users.u1?" + "&".join(["conversations"] * 20),
        "v2.detail.events.conversation.c1.user.teleport",
        "",
    ],
)
def test_invalid_topic_names_value_and_forms(topic: str) -> None:
    with pytest.raises(TopicError) as caught:
        validate_topic(topic)

    assert repr(topic) in str(caught.value)
    assert "v2.routing.queues.<queue id>.conversations" in str(caught.value)


def test_invalid_queue_id() -> None:
    with pytest.raises(TopicError, match="a b"):
        queue_topic("a b")


def test_shards_of_at_most_1000() -> None:
    topics = [f"v2.routing.queues.q{i:04d}.conversations" for i in range(2500)]

    shards = split_topics(topics)

    assert [len(shard) for shard in shards] == [1000, 1000, 500]
    assert sorted(t for shard in shards for t in shard) == sorted(topics)


def test_shards_do_not_depend_on_input_order() -> None:
    topics = [f"v2.users.u{i}.conversations" for i in range(30)]

    assert split_topics(topics, 7) == split_topics(reversed(topics), 7)


def test_shard_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="max_per_channel"):
        split_topics([], 0)
    with pytest.raises(ValueError, match="shards"):
        shard_of("c1", 0)


def test_shard_of_is_stable() -> None:
    # CRC-32 of this id is 0x109a6412: the same in every process and version.
    assert shard_of("c0ffee00-0000-4000-8000-000000000001", 8) == 2
    assert {shard_of(f"c{i}", 4) for i in range(100)} == {0, 1, 2, 3}


@pytest.mark.parametrize(
    "topic",
    [
        "v2.users.u1?conversations&presence",
        "v2.users.u1?presence&conversations.calls",
        "v2.routing.queues.q1?conversations.calls&conversations.chats",
    ],
)
def test_combined_topics_accepted(topic: str) -> None:
    assert validate_topic(topic) == topic
