"""The merged state of one conversation, and what is derived from it.

A conversation, each participant and each communication is a node with two
kinds of values:

- ``times``: timestamps that only move one way. ``connectedTime``,
  ``startTime``, ``startAlertingTime`` and ``startAcwTime`` keep the earliest
  value seen, ``disconnectedTime``, ``endTime`` and ``endAcwTime`` the latest.
- ``fields``: every other key, each a register ``(stamp, value)``. The value
  with the greatest stamp wins. Equal stamps with different values are
  ordered by their canonical JSON encoding, so the order of arrival does not
  matter. A ``None`` value is a transient field (``held``, ``muted``) that a
  newer snapshot no longer carried.

A stamp is ``(state rank, latest time)`` of the observation that carried the
value. Communications rank their states (alerting < connected < disconnected
< terminated), so a communication never moves back from ``disconnected``.

The conversation's own state (``active`` or ``ended``), its start and end
times are derived from the nodes on every read, so nothing here is sticky.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# (state rank, latest time): tuple order is progress order.
Stamp = tuple[int, str]
Register = tuple[Stamp, Any]

# Keys the stored item uses for its own structure. A Genesys key with one of
# these names is dropped and reported as a schema surprise.
RESERVED_KEYS = frozenset({"id", "mediaType", "communications", "_stamp", "_stamps"})

EARLIEST_TIMES = frozenset({"connectedTime", "startTime", "startAlertingTime", "startAcwTime"})
LATEST_TIMES = frozenset({"disconnectedTime", "endTime", "endAcwTime"})
TIME_KEYS = EARLIEST_TIMES | LATEST_TIMES

# Rank 0 means "no state observed". Unknown state names rank as pending.
PENDING_RANK = 1
CONNECTED_RANK = 2
DISCONNECTED_RANK = 3
STATE_RANKS: Mapping[str, int] = {
    "alerting": PENDING_RANK,
    "dialing": PENDING_RANK,
    "contacting": PENDING_RANK,
    "offering": PENDING_RANK,
    "scheduled": PENDING_RANK,
    "queued": PENDING_RANK,
    "connected": CONNECTED_RANK,
    "disconnected": DISCONNECTED_RANK,
    "terminated": 4,
}

ACTIVE = "active"
ENDED = "ended"


def state_rank(state: str) -> int:
    """Return the progress rank of a communication state, where unknown states rank as pending."""
    return STATE_RANKS.get(state, PENDING_RANK)


@dataclass(frozen=True, slots=True)
class KnownParticipant:
    """A merged participant's latest time and surprises, reused for an unchanged entry."""

    latest: str
    surprises: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CommunicationState:
    """One communication (``calls[]``, ``chats[]``, ...) of a participant."""

    media: str
    id: str
    times: dict[str, str] = field(default_factory=dict)
    fields: dict[str, Register] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.media, self.id)


@dataclass(frozen=True, slots=True)
class ParticipantState:
    """One participant, with its communications keyed by (media type, communication id)."""

    id: str
    times: dict[str, str] = field(default_factory=dict)
    fields: dict[str, Register] = field(default_factory=dict)
    communications: dict[tuple[str, str], CommunicationState] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConversationState:
    """The merged state of one conversation.

    ``queues`` maps each queue the conversation went through to the earliest
    time it was seen there (None when no time was given). ``revision`` counts
    the merges that changed the content. The content is never mutated: a merge
    that changes something returns a new instance sharing unchanged nodes.
    Only the caches ``derived``, ``seen`` and ``known_participants`` change in place.
    """

    conversation_id: str
    revision: int = 0
    times: dict[str, str] = field(default_factory=dict)
    fields: dict[str, Register] = field(default_factory=dict)
    participants: dict[str, ParticipantState] = field(default_factory=dict)
    queues: dict[str, str | None] = field(default_factory=dict)
    # Values derived from this (immutable) state, computed once on first use.
    # Threads may share a state: a race only computes the same value twice.
    derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # Fingerprints of observations already merged, so that their duplicates
    # skip normalization. A cache, not content: never stored, never compared.
    seen: set[bytes] = field(default_factory=set, compare=False, repr=False)
    # Digests of the raw participants of the latest snapshot merged, each with
    # what the rest of a snapshot needs from it, so that a changed snapshot
    # normalizes and merges only the participants that changed. A cache like ``seen``.
    known_participants: dict[bytes, KnownParticipant] = field(
        default_factory=dict, compare=False, repr=False
    )


@dataclass(frozen=True, slots=True)
class Summary:
    """The derived view stored beside the state and sent with every message."""

    state: str
    start_time: str | None
    end_time: str | None
    media_types: tuple[str, ...]
    queue_ids: tuple[str, ...]
    user_ids: tuple[str, ...]


def same_content(a: ConversationState, b: ConversationState) -> bool:
    """Return whether two states have the same content, ignoring ``revision`` and caches."""
    return (
        a.conversation_id == b.conversation_id
        and a.times == b.times
        and a.fields == b.fields
        and a.queues == b.queues
        and a.participants == b.participants
    )


def value(node_fields: Mapping[str, Register], key: str) -> Any:
    """Return the current value of one field, or None."""
    register = node_fields.get(key)
    return None if register is None else register[1]


def text(node_fields: Mapping[str, Register], key: str) -> str | None:
    """Return the current value of one field if it is a string, else None."""
    current = value(node_fields, key)
    return current if isinstance(current, str) else None


def communication_state(communication: CommunicationState) -> str | None:
    """Return the merged state name of a communication, or None if none was seen."""
    return text(communication.fields, "state")


def communication_active(communication: CommunicationState) -> bool | None:
    """Return whether a communication is active, or None when no state was seen."""
    state = communication_state(communication)
    if state is None:
        return None
    return state_rank(state) < DISCONNECTED_RANK


def in_after_call_work(participant: ParticipantState) -> bool:
    """Return whether a participant has started after-call work and not finished it."""
    return "startAcwTime" in participant.times and "endAcwTime" not in participant.times


def participant_active(participant: ParticipantState) -> bool:
    """Return whether a participant is active.

    A participant is active while any of its communications is, and while it
    is in after-call work. One with no communication state known is active
    until it has an ``endTime``.
    """
    if in_after_call_work(participant):
        return True
    known = False
    for communication in participant.communications.values():
        active = communication_active(communication)
        if active:
            return True
        known = known or active is not None
    return not known and "endTime" not in participant.times


def latest_time(times: Mapping[str, str], fields: Mapping[str, Register]) -> str:
    """Return the latest time a node carries, in its times or its stamps ("" if none)."""
    latest = max(times.values(), default="")
    for stamp, _ in fields.values():
        if stamp[1] > latest:
            latest = stamp[1]
    return latest


def participant_latest(participant: ParticipantState) -> str:
    latest = latest_time(participant.times, participant.fields)
    for communication in participant.communications.values():
        latest = max(latest, latest_time(communication.times, communication.fields))
    return latest


def end_boundary(state: ConversationState) -> str | None:
    """Return the time after which a still-active leg no longer keeps the conversation open.

    That is the latest of the conversation's own ``endTime`` and, once every
    customer participant has ended, the customer's last time. So a customer
    that hangs up ends the conversation even when a ``user.end`` never
    arrives. A leg with activity after the boundary (an agent re-routed) or in
    after-call work keeps it open.
    """
    boundary = state.times.get("endTime")
    customers = [p for p in state.participants.values() if text(p.fields, "purpose") == "customer"]
    if customers and not any(participant_active(p) for p in customers):
        customer_end = max(participant_latest(p) for p in customers)
        if customer_end and (boundary is None or customer_end > boundary):
            boundary = customer_end
    return boundary


def active_participants(state: ConversationState) -> frozenset[str]:
    """Return the ids of the participants that keep the conversation open."""
    cached: frozenset[str] | None = state.derived.get("active")
    if cached is None:
        cached = state.derived["active"] = _active_participants(state)
    return cached


def _active_participants(state: ConversationState) -> frozenset[str]:
    boundary = end_boundary(state)
    return frozenset(
        {
            participant.id
            for participant in state.participants.values()
            if participant_active(participant)
            and (
                boundary is None
                or in_after_call_work(participant)
                or participant_latest(participant) > boundary
            )
        }
    )


def conversation_state(state: ConversationState) -> str:
    """Return ``active`` while any participant is active, ``ended`` when none is."""
    if not state.participants:
        return ENDED if "endTime" in state.times else ACTIVE
    return ACTIVE if active_participants(state) else ENDED


def summarize(state: ConversationState) -> Summary:
    """Derive the summary: state, start and end times, media types, queues, users."""
    cached: Summary | None = state.derived.get("summary")
    if cached is None:
        cached = state.derived["summary"] = _summarize(state)
    return cached


def _summarize(state: ConversationState) -> Summary:
    starts: list[str] = []
    ends: list[str] = []
    media: set[str] = set()
    queues: set[str] = set(state.queues)
    users: set[str] = set()
    _collect_times(state.times, starts, ends)
    for participant in state.participants.values():
        _collect_times(participant.times, starts, ends)
        queue_id = text(participant.fields, "queueId")
        if queue_id:
            queues.add(queue_id)
        user_id = text(participant.fields, "userId")
        if user_id:
            users.add(user_id)
        for communication in participant.communications.values():
            media.add(communication.media)
            _collect_times(communication.times, starts, ends)

    status = conversation_state(state)
    return Summary(
        state=status,
        start_time=min(starts, default=None),
        end_time=max(ends, default=None) if status == ENDED else None,
        media_types=tuple(sorted(media)),
        queue_ids=tuple(sorted(queues)),
        user_ids=tuple(sorted(users)),
    )


def queue_history(state: ConversationState) -> list[str]:
    """Return the queue ids in the order the conversation reached them."""
    return [
        queue_id
        for queue_id, _ in sorted(
            state.queues.items(), key=lambda item: (item[1] is None, item[1] or "", item[0])
        )
    ]


def project(state: ConversationState) -> dict[str, Any]:
    """Return a canonical, comparable view of a conversation.

    Tests compare the simulator's truth and the stored state through this view.
    It has the conversation state, start and end time. Per participant it has
    the purpose, user, queue, end time and wrap-up code. Per communication
    (``"<media>:<id>"``) it has the state, connected and disconnected times
    and disconnect type.
    """
    summary = summarize(state)
    participants: dict[str, Any] = {}
    for participant in state.participants.values():
        wrapup = value(participant.fields, "wrapup")
        communications = {
            f"{c.media}:{c.id}": {
                "state": communication_state(c),
                "connectedTime": c.times.get("connectedTime"),
                "disconnectedTime": c.times.get("disconnectedTime"),
                "disconnectType": text(c.fields, "disconnectType"),
            }
            for c in participant.communications.values()
        }
        participants[participant.id] = {
            "purpose": text(participant.fields, "purpose"),
            "userId": text(participant.fields, "userId"),
            "queueId": text(participant.fields, "queueId"),
            "endTime": participant.times.get("endTime"),
            "wrapupCode": wrapup.get("code") if isinstance(wrapup, dict) else None,
            "communications": communications,
        }
    return {
        "conversationId": state.conversation_id,
        "state": summary.state,
        "startTime": summary.start_time,
        "endTime": summary.end_time,
        "participants": participants,
    }


def _collect_times(times: Mapping[str, str], starts: list[str], ends: list[str]) -> None:
    for key, time in times.items():
        if key in EARLIEST_TIMES and key != "startAcwTime":
            starts.append(time)
        elif key in ("endTime", "disconnectedTime"):
            ends.append(time)
