"""Merge observations into the current state of a conversation.

Every value is merged by a join: an operation that is commutative, associative
and idempotent. So the merged state of a set of observations is the same for
every arrival order, and merging an observation twice changes nothing.

- Earliest times (``connectedTime``, ``startTime``, ...) keep the minimum,
  latest times (``disconnectedTime``, ``endTime``, ``endAcwTime``) the maximum.
- Every other field keeps the value with the greatest stamp ``(state rank,
  latest time)``. Equal stamps with different values keep the value whose
  canonical JSON encoding sorts last. A key missing from an observation never
  erases a value. The exception is transient fields (``held``, ``muted``,
  ...): a snapshot that omits one sets it to None at that snapshot's stamp.
- A communication's ``state`` is a field whose stamp starts with the state's
  rank, so it never moves back from ``disconnected`` or ``terminated``.
- Participants, communications and queue history are unions keyed by id.

NOTE: Genesys snapshots carry no sequence number. Two snapshots with the same
state and times (a call held, then resumed, with no new timestamp) are ordered
by value, not by arrival, so a transient field can show the older value.
Values are compared with Python's ``==``, so ``true`` and ``1`` at one stamp
count as the same value, and the one merged first stays.

Unchanged nodes are shared between the old and the new state, so merging a
duplicate allocates almost nothing and returns the old state itself. A state
also remembers the fingerprints of the last observations merged into it, so an
exact copy (the same change on the queue, user and media topics) is skipped
before it is even normalized. It also keeps a digest of each raw participant
of the latest snapshot, so a changed snapshot normalizes and merges only the
participants that changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from handlers.lifecycle import LifecycleEvent, diff_events
from handlers.normalize import CommunicationObservation, Observation, ParticipantObservation
from handlers.state import (
    EARLIEST_TIMES,
    CommunicationState,
    ConversationState,
    ParticipantState,
    Register,
    Stamp,
    project,
    same_content,
)

__all__ = ["ConversationState", "MergeResult", "join_states", "merge", "project", "with_revision"]


@dataclass(frozen=True, slots=True)
class MergeResult:
    """The state after a merge, whether it changed, its lifecycle events and schema surprises."""

    state: ConversationState
    changed: bool
    events: list[LifecycleEvent]
    surprises: int


def merge(state: ConversationState | None, observation: Observation) -> MergeResult:
    """Merge one observation into ``state`` (None for a conversation not seen yet).

    ``revision`` grows by one when the content changes. Otherwise the result
    contains ``state`` itself, ``changed`` is False and there are no events,
    and the observation's fingerprint is added to ``state.seen``.
    Raises ValueError when the observation has no conversation id or belongs to
    another conversation.
    """
    if not observation.conversation_id:
        raise ValueError(
            f"Observation from {observation.topic or observation.kind} has no conversation id, so "
            "it cannot be merged. Drop it and count it as a schema surprise."
        )
    if state is not None and observation.conversation_id != state.conversation_id:
        raise ValueError(
            f"Observation of conversation {observation.conversation_id!r} cannot merge into "
            f"conversation {state.conversation_id!r}. Route it by its own conversation id."
        )
    fingerprint = observation.fingerprint
    if state is not None and fingerprint in state.seen:
        # Merged before, and merging is idempotent. Its surprises were counted then.
        return MergeResult(state, False, [], 0)
    base = state if state is not None else ConversationState(observation.conversation_id)
    # Participants this state has already merged are left out: merging is idempotent.
    content = observation.content_without(base.known_participants)
    surprises = content.report.count

    participants = _merge_participants(base.participants, content.participants)
    times = _join_times(base.times, content.times)
    fields = _join_observed(base.fields, content.fields, content.stamp)
    queues = _join_queues(base.queues, content.queues)
    unchanged = (
        participants is base.participants
        and times is base.times
        and fields is base.fields
        and queues is base.queues
    )
    if unchanged and state is not None:
        _remember(state.seen, fingerprint)
        return MergeResult(state, False, [], surprises)

    merged = ConversationState(
        conversation_id=base.conversation_id,
        revision=base.revision + 1,
        times=times,
        fields=fields,
        participants=participants,
        queues=queues,
        seen=_remember(set(base.seen), fingerprint),
        # The participants of the latest snapshot: those the next one most likely repeats.
        known_participants=content.participant_digests or base.known_participants,
    )
    return MergeResult(merged, True, diff_events(state, merged), surprises)


def join_states(a: ConversationState, b: ConversationState) -> ConversationState:
    """Join two states of one conversation, such as a cached one and the stored one.

    The content is the join of both. The revision is the greater of the two
    when every input at that revision already has the joined content, else one
    more. So the result's revision is greater than that of any input whose
    content it changes.
    Raises ValueError for states of different conversations.
    """
    if a.conversation_id != b.conversation_id:
        raise ValueError(
            f"Cannot join conversation {a.conversation_id!r} with {b.conversation_id!r}."
        )
    joined = ConversationState(
        conversation_id=a.conversation_id,
        revision=0,
        times=_join_times(a.times, b.times),
        fields=_join_registers(a.fields, b.fields),
        participants=_join_participant_maps(a.participants, b.participants),
        queues=_join_queues(a.queues, b.queues),
    )
    top = max(a.revision, b.revision)
    holders = [s for s in (a, b) if s.revision == top]
    revision = top if all(same_content(joined, s) for s in holders) else top + 1
    return with_revision(joined, revision)


# Fingerprints kept per conversation: enough for the copies of recent changes
# (queue, user and media topics). Each costs roughly 100 bytes (an estimate:
# a 16-byte bytes object and its set slot).
SEEN_LIMIT = 16


def _remember(seen: set[bytes], fingerprint: bytes) -> set[bytes]:
    """Add a fingerprint to ``seen`` (in place), forgetting all others past ``SEEN_LIMIT``."""
    if len(seen) >= SEEN_LIMIT:
        seen.clear()
    seen.add(fingerprint)
    return seen


def with_revision(state: ConversationState, revision: int) -> ConversationState:
    """Return ``state`` with another revision, such as the next one after a stored item."""
    return ConversationState(
        state.conversation_id,
        revision,
        state.times,
        state.fields,
        state.participants,
        state.queues,
        seen=state.seen,
        known_participants=state.known_participants,
    )


# Observations into state


def _merge_participants(
    current: dict[str, ParticipantState], observed: tuple[ParticipantObservation, ...]
) -> dict[str, ParticipantState]:
    result = current
    for observation in observed:
        old = result.get(observation.id)
        new = _merge_participant(old, observation)
        if new is not old:
            if result is current:
                result = dict(current)
            result[observation.id] = new
    return result


def _merge_participant(
    old: ParticipantState | None, observation: ParticipantObservation
) -> ParticipantState:
    base = old if old is not None else ParticipantState(observation.id)
    times = _join_times(base.times, observation.times)
    fields = _join_observed(base.fields, observation.fields, observation.stamp)
    communications = base.communications
    for observed in observation.communications:
        key = (observed.media, observed.id)
        before = communications.get(key)
        after = _merge_communication(before, observed)
        if after is not before:
            if communications is base.communications:
                communications = dict(base.communications)
            communications[key] = after
    if (
        old is not None
        and times is base.times
        and fields is base.fields
        and communications is base.communications
    ):
        return old
    return ParticipantState(observation.id, times, fields, communications)


def _merge_communication(
    old: CommunicationState | None, observation: CommunicationObservation
) -> CommunicationState:
    base = old if old is not None else CommunicationState(observation.media, observation.id)
    times = _join_times(base.times, observation.times)
    fields = _join_observed(base.fields, observation.fields, observation.stamp)
    if old is not None and times is base.times and fields is base.fields:
        return old
    return CommunicationState(observation.media, observation.id, times, fields)


# States into state


def _join_participant_maps(
    a: dict[str, ParticipantState], b: dict[str, ParticipantState]
) -> dict[str, ParticipantState]:
    result = dict(a)
    for participant_id, right in b.items():
        left = result.get(participant_id)
        result[participant_id] = right if left is None else _join_participants(left, right)
    return result


def _join_participants(a: ParticipantState, b: ParticipantState) -> ParticipantState:
    communications = dict(a.communications)
    for key, right in b.communications.items():
        left = communications.get(key)
        communications[key] = (
            right
            if left is None
            else CommunicationState(
                left.media,
                left.id,
                _join_times(left.times, right.times),
                _join_registers(left.fields, right.fields),
            )
        )
    return ParticipantState(
        a.id,
        _join_times(a.times, b.times),
        _join_registers(a.fields, b.fields),
        communications,
    )


# Values


def _join_times(current: dict[str, str], observed: Mapping[str, str]) -> dict[str, str]:
    """Keep the earliest or latest of each time, returning ``current`` itself if nothing moved."""
    if observed.items() <= current.items():
        return current
    if not current:
        # A new node: nothing to compare.
        return dict(observed)
    result = dict(current)
    for key, time in observed.items():
        old = result.get(key)
        if old is None or (time < old if key in EARLIEST_TIMES else time > old):
            result[key] = time
    return result if result != current else current


def _join_observed(
    current: dict[str, Register], observed: Mapping[str, Any], stamp: Stamp
) -> dict[str, Register]:
    """Join an observation's fields, all at ``stamp``, returning ``current`` if nothing changed."""
    registers = {key: (stamp, new_value) for key, new_value in observed.items()}
    # A duplicate carries only registers the state already holds: one C-level check.
    if registers.items() <= current.items():
        return current
    if not current:
        return registers
    result = current
    for key, register in registers.items():
        old = result.get(key)
        if old is not None and not _wins(stamp, register[1], old):
            continue
        if result is current:
            result = dict(current)
        result[key] = register
    return result


def _join_registers(a: dict[str, Register], b: Mapping[str, Register]) -> dict[str, Register]:
    result = dict(a)
    for key, (stamp, new_value) in b.items():
        old = result.get(key)
        if old is None or _wins(stamp, new_value, old):
            result[key] = (stamp, new_value)
    return result


def _wins(stamp: Stamp, new_value: Any, old: Register) -> bool:
    """Return whether ``(stamp, new_value)`` replaces the register ``old``."""
    old_stamp, old_value = old
    if stamp != old_stamp:
        return stamp > old_stamp
    if type(new_value) is type(old_value) and new_value == old_value:
        return False
    return _canonical(new_value) > _canonical(old_value)


def _canonical(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        # An integer beyond 64 bits: still a total, deterministic order.
        return repr(value).encode()


def _join_queues(
    current: dict[str, str | None], observed: Mapping[str, str | None]
) -> dict[str, str | None]:
    """Keep the earliest known time per queue, where a known time beats None."""
    result = current
    for queue_id, time in observed.items():
        if queue_id in result:
            old = result[queue_id]
            if time is None or (old is not None and time >= old):
                continue
        if result is current:
            result = dict(current)
        result[queue_id] = time
    return result
