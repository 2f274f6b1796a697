"""Build, validate and shard notification topics, and shard conversations.

Topics the service subscribes to::

    v2.routing.queues.<queue id>.conversations[.<media>]
    v2.users.<user id>.conversations[.<media>]
    v2.detail.events.conversation.<conversation id>.<kind>

and combined topics, which count as one topic of at most 200 characters and
deliver their events under the expanded names::

    v2.users.<user id>?conversations&presence
    v2.routing.queues.<queue id>?conversations.calls&conversations.chats

A channel takes at most 1,000 topics, so a larger set is split into shards,
one channel each. Conversations are spread over merge shards by a stable hash
of their id (CRC-32), never Python's ``hash()``, which differs per process.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable

from handlers.normalize import DETAIL_KINDS

MAX_TOPICS_PER_CHANNEL = 1000

# Media suffixes of conversation topics, as Genesys spells them.
MEDIA_SUFFIXES = (
    "calls",
    "callbacks",
    "chats",
    "cobrowsesessions",
    "emails",
    "messages",
    "screenshares",
    "socialexpressions",
    "videos",
)

_ID = r"[A-Za-z0-9_-]+"
_MEDIA = "|".join(MEDIA_SUFFIXES)
_TOPIC_PATTERNS = (
    re.compile(rf"v2\.routing\.queues\.{_ID}\.conversations(\.({_MEDIA}))?"),
    re.compile(rf"v2\.users\.{_ID}\.conversations(\.({_MEDIA}))?"),
    re.compile(
        rf"v2\.detail\.events\.conversation\.{_ID}\."
        rf"({'|'.join(re.escape(kind) for kind in sorted(DETAIL_KINDS))})"
    ),
)
_USER_PARTS = rf"(conversations(\.({_MEDIA}))?|presence)"
_QUEUE_PARTS = rf"conversations(\.({_MEDIA}))?"
_COMBINED_PATTERNS = (
    re.compile(rf"v2\.users\.{_ID}\?{_USER_PARTS}(&{_USER_PARTS})*"),
    re.compile(rf"v2\.routing\.queues\.{_ID}\?{_QUEUE_PARTS}(&{_QUEUE_PARTS})*"),
)
MAX_COMBINED_TOPIC_LENGTH = 200
_VALID_FORMS = (
    "v2.routing.queues.<queue id>.conversations[.<media>], "
    "v2.users.<user id>.conversations[.<media>] or "
    "v2.detail.events.conversation.<conversation id>.<kind>, "
    "or a combined v2.users.<user id>?conversations&presence of at most "
    f"{MAX_COMBINED_TOPIC_LENGTH} characters, where <media> is one of "
    f"{', '.join(MEDIA_SUFFIXES)}"
)


class TopicError(ValueError):
    """A topic name or id that is not one of the supported forms."""


def queue_topic(queue_id: str, media: str | None = None) -> str:
    """Return the conversation topic of one queue, optionally for one media suffix."""
    return validate_topic(f"v2.routing.queues.{queue_id}.conversations" + _suffix(media))


def user_topic(user_id: str, media: str | None = None) -> str:
    """Return the conversation topic of one user, optionally for one media suffix."""
    return validate_topic(f"v2.users.{user_id}.conversations" + _suffix(media))


def validate_topic(topic: str) -> str:
    """Return ``topic`` if it is a supported topic name, else raise TopicError."""
    if any(pattern.fullmatch(topic) for pattern in _TOPIC_PATTERNS):
        return topic
    combined = any(pattern.fullmatch(topic) for pattern in _COMBINED_PATTERNS)
    if combined and len(topic) <= MAX_COMBINED_TOPIC_LENGTH:
        return topic
    raise TopicError(f"Invalid topic {topic!r}: expected {_VALID_FORMS}.")


def build_topics(
    queue_ids: Iterable[str] = (),
    user_ids: Iterable[str] = (),
    topics: Iterable[str] = (),
) -> list[str]:
    """Return the de-duplicated, sorted topics for queues, users and explicit topic names.

    Raises TopicError naming the first invalid id or topic.
    """
    found = {queue_topic(queue_id) for queue_id in queue_ids}
    found.update(user_topic(user_id) for user_id in user_ids)
    found.update(validate_topic(topic) for topic in topics)
    return sorted(found)


def split_topics(
    topics: Iterable[str], max_per_channel: int = MAX_TOPICS_PER_CHANNEL
) -> list[tuple[str, ...]]:
    """Split de-duplicated, sorted topics into channel shards of at most ``max_per_channel``.

    The split depends only on the set of topics, so every replica computes the
    same shards.
    """
    if max_per_channel < 1:
        raise ValueError(f"max_per_channel must be 1 or more, got {max_per_channel}.")
    ordered = sorted(set(topics))
    return [
        tuple(ordered[start : start + max_per_channel])
        for start in range(0, len(ordered), max_per_channel)
    ]


def shard_of(conversation_id: str, shards: int) -> int:
    """Return the merge shard (0 to ``shards - 1``) of a conversation: CRC-32 of its id."""
    if shards < 1:
        raise ValueError(f"shards must be 1 or more, got {shards}.")
    return zlib.crc32(conversation_id.encode()) % shards


def _suffix(media: str | None) -> str:
    return "" if media is None else f".{media}"
