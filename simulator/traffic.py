"""Conversation traffic for the simulated org: the frames Genesys emits, and the truth behind them.

``generate`` plays a seeded script for each conversation and returns every
emission (topic, ``eventBody``, ``CorrelationId`` and the simulator-clock time
Genesys emits it) together with the ``Truth`` those frames describe.

Each change of a conversation emits its full snapshot, with every participant
and ended legs included. The snapshot goes to ``v2.routing.queues.<id>.conversations``
and ``...conversations.<media>`` for each queue the conversation has been routed
to, and to ``v2.users.<id>.conversations`` and ``...conversations.<media>`` for
each agent it has alerted. Each leg start, leg end, after-call work and wrap-up
also emits one detail event on ``v2.detail.events.conversation.<id>.<kind>``.

The same seed gives the same scenario. Conversations come from one random
stream and delivery effects (latency, duplicates, reordering, correlation ids)
from another, so changing a delivery rate leaves the conversations unchanged.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from simulator import shapes
from simulator.conversations import (
    MEDIA_BY_NAME,
    Behaviour,
    Conversation,
    ConversationScript,
    Org,
    build_org,
    new_uuid,
)
from simulator.truth import Truth

# Delay between a change and its frame leaving Genesys, in seconds.
_MIN_LATENCY = 0.02
_MAX_LATENCY = 0.25
# Duplicates follow the original within this many seconds.
_MAX_DUPLICATE_LAG = 1.0


@dataclass(frozen=True)
class Emission:
    """One frame as Genesys emits it, inside a ``topicName``/``eventBody``/``metadata`` envelope.

    ``body`` may be the same dict object in several emissions (one snapshot on
    many topics, and duplicates): treat it as read-only.
    """

    at: float  # epoch seconds on the simulator clock when Genesys emits it
    topic: str  # concrete topicName
    body: dict[str, Any]  # eventBody
    correlation_id: str  # metadata.CorrelationId: fresh per emission, duplicates included

    @property
    def conversation_id(self) -> str:
        """Return the id of the conversation the frame is about.

        Detail events carry it as ``conversationId``, snapshots as ``id``.
        """
        return str(self.body.get("conversationId") or self.body["id"])

    def frame(self) -> dict[str, Any]:
        """Return the WebSocket data frame for this emission."""
        return {
            "topicName": self.topic,
            "version": "2",
            "eventBody": self.body,
            "metadata": {"CorrelationId": self.correlation_id},
        }


@dataclass(frozen=True)
class TrafficConfig:
    """Settings of the generated traffic. Times are epoch seconds on the simulator clock."""

    conversations: int = 100
    start: float = 1_767_225_600.0  # 2026-01-01T00:00:00Z: the first conversation begins here
    duration: float = 600.0  # conversations start spread over this many seconds
    seed: int = 0
    # Seed of the org (queues, agents, wrap-up codes) when it must stay the same
    # across scenarios with different conversation seeds; None: use ``seed``.
    org_seed: int | None = None
    queues: int = 5
    agents: int = 20
    duplicate_rate: float = 0.0  # probability a frame is emitted again, 1 or 2 more times
    reorder_rate: float = 0.0  # probability a frame is delayed by up to reorder_delay
    reorder_delay: float = 3.0
    # Relative weights of inbound voice, callback, web chat and messaging conversations,
    # as (name, weight) pairs or a mapping of name to weight.
    media_mix: tuple[tuple[str, float], ...] | Mapping[str, float] = (
        ("voice", 0.55),
        ("callback", 0.1),
        ("chat", 0.2),
        ("message", 0.15),
    )
    detail_events: bool = True
    # Conversations connected before `start` that then change nothing for 3 to 10
    # minutes; their frames from before `start` are not emitted.
    already_active: int = 0
    # Conversations with 40 participants and attributes that make each snapshot
    # over 450 KB of JSON; they start within `duration` like the others.
    oversized: int = 0
    behaviour: Behaviour = field(default_factory=Behaviour)

    def __post_init__(self) -> None:
        counts = {
            "conversations": self.conversations,
            "already_active": self.already_active,
            "oversized": self.oversized,
        }
        if any(count < 0 for count in counts.values()):
            raise ValueError(f"Conversation counts must not be negative, got {counts}.")
        if self.duration < 0:
            raise ValueError(f"duration must be 0 or more seconds, got {self.duration}.")
        for name in ("duplicate_rate", "reorder_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability from 0 to 1, got {value}.")
        if self.reorder_delay < 0:
            raise ValueError(f"reorder_delay must be 0 or more seconds, got {self.reorder_delay}.")
        mix = self.media_weights()
        unknown = [name for name, _ in mix if name not in MEDIA_BY_NAME]
        if unknown:
            raise ValueError(
                f"Unknown media types in media_mix: {unknown}; "
                f"valid ones are {sorted(MEDIA_BY_NAME)}."
            )
        if any(weight < 0 for _, weight in mix) or not any(weight > 0 for _, weight in mix):
            raise ValueError(
                f"media_mix needs at least one positive weight and none negative, "
                f"got {self.media_mix}."
            )

    def media_weights(self) -> list[tuple[str, float]]:
        """Return ``media_mix`` as (media name, weight) pairs."""
        if isinstance(self.media_mix, Mapping):
            return list(self.media_mix.items())
        return list(self.media_mix)


@dataclass
class Scenario:
    emissions: list[Emission]  # sorted by `at`; only those at or after TrafficConfig.start
    truth: Truth


def generate(config: TrafficConfig) -> Scenario:
    """Generate conversations, their emissions and their truth, the same for the same seed."""
    conversation_rng = random.Random(config.seed)
    delivery_rng = random.Random(f"{config.seed}:delivery")
    org_rng = (
        conversation_rng if config.org_seed is None else random.Random(f"org:{config.org_seed}")
    )
    org = build_org(org_rng, config.queues, config.agents)

    conversations = _play_conversations(config, org, conversation_rng)

    emissions: list[Emission] = []
    for conversation in conversations:
        for at, topic, body in _frames(conversation, org, config.detail_events):
            _deliver(emissions, config, delivery_rng, at, topic, body)
    emissions.sort(key=lambda emission: emission.at)

    return Scenario(emissions=emissions, truth=Truth(org, conversations))


def _play_conversations(config: TrafficConfig, org: Org, rng: random.Random) -> list[Conversation]:
    names = [name for name, _ in config.media_weights()]
    weights = [weight for _, weight in config.media_weights()]
    starts = sorted(
        config.start + rng.uniform(0.0, config.duration) for _ in range(config.conversations)
    )
    conversations = []
    for start in starts:
        media = MEDIA_BY_NAME[rng.choices(names, weights)[0]]
        script = ConversationScript(rng, org, media, config.behaviour)
        conversations.append(script.build(start))

    for _ in range(config.already_active):
        media = MEDIA_BY_NAME[rng.choices(names, weights)[0]]
        start = config.start - rng.uniform(120.0, 1200.0)
        silent_until = config.start + rng.uniform(180.0, 600.0)
        script = ConversationScript(rng, org, media, config.behaviour)
        conversations.append(script.build(start, silent_until=silent_until))

    for _ in range(config.oversized):
        media = MEDIA_BY_NAME[rng.choices(names, weights)[0]]
        start = config.start + rng.uniform(0.0, config.duration)
        script = ConversationScript(rng, org, media, config.behaviour)
        conversations.append(script.build(start, oversized=True))
    return conversations


def _frames(
    conversation: Conversation, org: Org, detail_events: bool
) -> list[tuple[float, str, dict[str, Any]]]:
    """Return ``(change time, topic, eventBody)`` for every frame of one conversation."""
    frames: list[tuple[float, str, dict[str, Any]]] = []
    media = conversation.media.array
    for at in conversation.change_times():
        body = shapes.notification_body(conversation, org, at)
        for queue_id in shapes.queue_ids_at(conversation, at):
            frames.append((at, f"v2.routing.queues.{queue_id}.conversations", body))
            frames.append((at, f"v2.routing.queues.{queue_id}.conversations.{media}", body))
        for user_id in shapes.user_ids_at(conversation, at):
            frames.append((at, f"v2.users.{user_id}.conversations", body))
            frames.append((at, f"v2.users.{user_id}.conversations.{media}", body))

    if detail_events:
        prefix = f"v2.detail.events.conversation.{conversation.id}"
        for at, kind, body in shapes.detail_events(conversation, org):
            frames.append((at, f"{prefix}.{kind}", body))
    return frames


def _deliver(
    emissions: list[Emission],
    config: TrafficConfig,
    rng: random.Random,
    changed_at: float,
    topic: str,
    body: dict[str, Any],
) -> None:
    """Append the emission of one frame, with its latency, delay and duplicates."""
    at = changed_at + rng.uniform(_MIN_LATENCY, _MAX_LATENCY)
    if config.reorder_rate and rng.random() < config.reorder_rate:
        at += config.reorder_delay * rng.uniform(0.1, 1.0)
    copies = 1
    if config.duplicate_rate and rng.random() < config.duplicate_rate:
        copies += rng.choice((1, 2))

    for copy in range(copies):
        emitted = at if copy == 0 else at + rng.uniform(0.0, _MAX_DUPLICATE_LAG)
        correlation_id = new_uuid(rng)
        if emitted >= config.start:
            emissions.append(Emission(emitted, topic, body, correlation_id))
